// Package minisign reads and writes minisign keys and signatures (the format
// of https://jedisct1.github.io/minisign/), so that a bundle's manifest
// signed by switchyard verifies with Debian's `minisign -V` and a manifest
// signed with `minisign -S` verifies here.
//
// Signing and verifying are github.com/jedisct1/go-minisign's; this package
// adds what it lacks: key generation and key files (secret keys without a
// password, as `minisign -G -W` writes them; password-protected secret keys
// written by `minisign -G` are read), and errors that say what to do. It
// signs in the prehashed mode ("ED", BLAKE2b-512 of the message), the default
// of minisign 0.10 and later, and verifies both that and the legacy "Ed".
package minisign

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	gominisign "github.com/jedisct1/go-minisign"
	"golang.org/x/crypto/blake2b"
)

// The pieces of the key formats (minisign's SIGALG, CHKALG and line prefixes).
const (
	sigAlg           = "Ed"
	chkAlg           = "B2"
	untrustedPrefix  = "untrusted comment: "
	trustedPrefix    = "trusted comment: "
	secretKeyBinSize = 158
)

// PublicKey is a minisign public key.
type PublicKey struct {
	k gominisign.PublicKey
}

// PrivateKey is a minisign secret key, decrypted.
type PrivateKey struct {
	k gominisign.PrivateKey
}

// GenerateKey makes a new key pair from random (crypto/rand.Reader in
// production).
func GenerateKey(random io.Reader) (*PrivateKey, *PublicKey, error) {
	_, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return nil, nil, fmt.Errorf("generate an Ed25519 key: %w", err)
	}
	var sk gominisign.PrivateKey
	copy(sk.SignatureAlgorithm[:], sigAlg)
	copy(sk.ChecksumAlgorithm[:], chkAlg)
	if _, err := io.ReadFull(random, sk.KeyId[:]); err != nil {
		return nil, nil, fmt.Errorf("generate a key id: %w", err)
	}
	copy(sk.SecretKey[:], priv)
	copy(sk.Checksum[:], checksum(sk.SignatureAlgorithm, sk.KeyId, sk.SecretKey))
	sk.UntrustedComment = untrustedPrefix + "minisign secret key " + keyIDString(sk.KeyId)
	k := &PrivateKey{k: sk}
	return k, k.Public(), nil
}

// checksum is minisign's secret key checksum: BLAKE2b-256 of the signature
// algorithm, the key id and the secret key.
func checksum(alg [2]byte, id [8]byte, secret [64]byte) []byte {
	h, _ := blake2b.New256(nil)
	h.Write(alg[:])
	h.Write(id[:])
	h.Write(secret[:])
	return h.Sum(nil)
}

// keyIDString is the key id as minisign prints it: the 8 bytes read as a
// little-endian number, in upper-case hex.
func keyIDString(id [8]byte) string {
	return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(id[:]))
}

// Public is the key's public half.
func (sk *PrivateKey) Public() *PublicKey {
	return &PublicKey{k: sk.k.PublicKey()}
}

// ID is the key id in hex, as minisign prints it.
func (pk *PublicKey) ID() string { return keyIDString(pk.k.KeyId) }

// MarshalText is the public key file (minisign.pub): a comment line with the
// key id and the key in base64.
func (pk *PublicKey) MarshalText() ([]byte, error) {
	bin := make([]byte, 0, 42)
	bin = append(bin, pk.k.SignatureAlgorithm[:]...)
	bin = append(bin, pk.k.KeyId[:]...)
	bin = append(bin, pk.k.PublicKey[:]...)
	return fmt.Appendf(nil, "%sminisign public key %s\n%s\n", untrustedPrefix, pk.ID(), base64.StdEncoding.EncodeToString(bin)), nil
}

// MarshalText is the secret key file without a password (minisign -G -W
// writes the same): keep it like an SSH private key (mode 0600).
func (sk *PrivateKey) MarshalText() ([]byte, error) {
	k := sk.k
	bin := make([]byte, 0, secretKeyBinSize)
	bin = append(bin, k.SignatureAlgorithm[:]...)
	bin = append(bin, 0, 0) // no KDF: the key is not encrypted
	bin = append(bin, k.ChecksumAlgorithm[:]...)
	bin = append(bin, make([]byte, 32+8+8)...) // KDF salt, ops and mem limits: unused
	bin = append(bin, k.KeyId[:]...)
	bin = append(bin, k.SecretKey[:]...)
	bin = append(bin, checksum(k.SignatureAlgorithm, k.KeyId, k.SecretKey)...)
	comment := k.UntrustedComment
	if comment == "" {
		comment = untrustedPrefix + "minisign secret key " + keyIDString(k.KeyId)
	}
	return fmt.Appendf(nil, "%s\n%s\n", comment, base64.StdEncoding.EncodeToString(bin)), nil
}

// ParsePublicKey reads a public key: a minisign.pub file (comment line and
// key) or the key's base64 line alone (as `minisign -P` takes it).
func ParsePublicKey(data []byte) (*PublicKey, error) {
	line := ""
	for l := range strings.Lines(string(data)) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, untrustedPrefix) {
			continue
		}
		line = l
		break
	}
	if line == "" {
		return nil, errors.New("not a minisign public key: no key line (want the file `minisign -G` or `switchyard bundle keygen` wrote)")
	}
	k, err := gominisign.NewPublicKey(line)
	if err != nil {
		return nil, fmt.Errorf("not a minisign public key: %w", err)
	}
	if string(k.SignatureAlgorithm[:]) != sigAlg {
		return nil, fmt.Errorf("minisign public key: unsupported algorithm %q (want %q)", k.SignatureAlgorithm[:], sigAlg)
	}
	return &PublicKey{k: k}, nil
}

// ParsePrivateKey reads a secret key file. A password-protected key (minisign
// -G without -W) is decrypted with the password password returns; password
// is not called for a key without one (and may be nil then).
func ParsePrivateKey(data []byte, password func() (string, error)) (*PrivateKey, error) {
	k, err := gominisign.DecodePrivateKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("not a minisign secret key: %w", err)
	}
	if k.IsEncrypted() {
		if password == nil {
			return nil, errors.New("the minisign secret key is password-protected: give its password (--sign-password-file)")
		}
		pw, err := password()
		if err != nil {
			return nil, fmt.Errorf("password of the minisign secret key: %w", err)
		}
		if err := k.Decrypt(pw); err != nil {
			return nil, fmt.Errorf("decrypt the minisign secret key: %w", err)
		}
	} else if k.Checksum != ([32]byte{}) && string(checksum(k.SignatureAlgorithm, k.KeyId, k.SecretKey)) != string(k.Checksum[:]) {
		// minisign -G -W leaves the checksum zero; ours write it.
		return nil, errors.New("minisign secret key: checksum mismatch (the file is damaged)")
	}
	return &PrivateKey{k: k}, nil
}

// Sign signs msg in the prehashed mode and returns the signature file
// (.minisig). trustedComment is signed too ("" gives minisign's default,
// the time); it must be one line of printable characters.
func (sk *PrivateKey) Sign(msg []byte, trustedComment string) ([]byte, error) {
	sig, err := sk.k.Sign(msg, gominisign.SignOptions{
		UntrustedComment: "signature from switchyard bundle key " + keyIDString(sk.k.KeyId),
		TrustedComment:   trustedComment,
		Hashed:           true,
	})
	if err != nil {
		return nil, fmt.Errorf("minisign: sign: %w", err)
	}
	return sig.Encode(), nil
}

// Verify checks that sig (a .minisig file) is pk's signature of msg, in the
// prehashed or the legacy mode, and returns its trusted comment (without
// the "trusted comment: " prefix).
func (pk *PublicKey) Verify(msg, sig []byte) (string, error) {
	s, err := gominisign.DecodeSignature(strings.TrimRight(string(sig), "\n"))
	if err != nil {
		return "", fmt.Errorf("not a minisign signature: %w", err)
	}
	if s.KeyId != pk.k.KeyId {
		return "", fmt.Errorf("signed with key %s, not with the given public key %s", keyIDString(s.KeyId), pk.ID())
	}
	if _, err := pk.k.Verify(msg, s); err != nil {
		return "", fmt.Errorf("signature does not verify with key %s: %w", pk.ID(), err)
	}
	return strings.TrimPrefix(s.TrustedComment, trustedPrefix), nil
}
