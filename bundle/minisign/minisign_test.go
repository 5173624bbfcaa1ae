package minisign

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/internal/wanterr"
)

func newKey(t *testing.T) (*PrivateKey, *PublicKey) {
	t.Helper()
	sk, pk, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sk, pk
}

func marshal(t *testing.T, m interface{ MarshalText() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignVerify signs with a generated key read back from its files and
// checks what verifies and what does not.
func TestSignVerify(t *testing.T) {
	sk0, pk0 := newKey(t)
	sk, err := ParsePrivateKey(marshal(t, sk0), nil)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParsePublicKey(marshal(t, pk0))
	if err != nil {
		t.Fatal(err)
	}
	if pk.ID() != pk0.ID() || sk.Public().ID() != pk0.ID() {
		t.Fatalf("key ids differ after a round trip: %s %s %s", pk.ID(), sk.Public().ID(), pk0.ID())
	}
	msg := []byte(`{"files":[]}`)
	sig, err := sk.Sign(msg, "bundle test")
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub := newKey(t)
	flipped := bytes.Clone(msg)
	flipped[3] ^= 1
	tests := []struct {
		name    string
		pk      *PublicKey
		msg     []byte
		sig     []byte
		wantErr string
	}{
		{"valid", pk, msg, sig, ""},
		{"message changed", pk, flipped, sig, "does not verify"},
		{"other key", otherPub, msg, sig, "not with the given public key"},
		{"trusted comment changed", pk, msg, bytes.Replace(sig, []byte("bundle test"), []byte("bundle tesT"), 1), "global signature"},
		{"not a signature", pk, msg, []byte("hello"), "not a minisign signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tcm, err := tc.pk.Verify(tc.msg, tc.sig)
			if !wanterr.Check(t, err, tc.wantErr) && tcm != "bundle test" {
				t.Fatalf("Verify = %q; want the trusted comment", tcm)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	sk, _ := newKey(t)
	damaged := marshal(t, sk)
	// Flip one base64 character inside the secret key (not its id).
	lines := strings.Split(string(damaged), "\n")
	b := []byte(lines[1])
	i := 100
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	lines[1] = string(b)
	tests := []struct {
		name, wantErr string
		parse         func() error
	}{
		{"empty public key", "no key line", func() error { _, err := ParsePublicKey(nil); return err }},
		{"garbage public key", "not a minisign public key", func() error { _, err := ParsePublicKey([]byte("x\nnot base64!\n")); return err }},
		{"garbage secret key", "not a minisign secret key", func() error { _, err := ParsePrivateKey([]byte("x\ny\n"), nil); return err }},
		{"damaged secret key", "checksum mismatch", func() error { _, err := ParsePrivateKey([]byte(strings.Join(lines, "\n")), nil); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// minisignBin is Debian's minisign, or the test is skipped (failed in CI).
func minisignBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		testenv.Missing(t, "minisign not found (apt-get install minisign; scripts/deps.sh installs it)")
	}
	return p
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDebianMinisignVerifiesOurs: keys and signatures made here verify with
// Debian's minisign, and a tampered file does not.
func TestDebianMinisignVerifiesOurs(t *testing.T) {
	bin := minisignBin(t)
	dir := t.TempDir()
	sk, pk := newKey(t)
	msg := []byte("manifest contents\n")
	sig, err := sk.Sign(msg, "switchyard bundle manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "m.json"), msg)
	write(t, filepath.Join(dir, "m.json.minisig"), sig)
	write(t, filepath.Join(dir, "k.pub"), marshal(t, pk))
	write(t, filepath.Join(dir, "k.key"), marshal(t, sk))
	if out, err := run(t, bin, "-V", "-p", filepath.Join(dir, "k.pub"), "-m", filepath.Join(dir, "m.json")); err != nil || !strings.Contains(out, "Signature and comment signature verified") {
		t.Fatalf("minisign -V rejects our signature: %v\n%s", err, out)
	}
	// minisign also signs with our secret key file, and we verify that.
	if out, err := run(t, bin, "-S", "-s", filepath.Join(dir, "k.key"), "-m", filepath.Join(dir, "m.json"), "-x", filepath.Join(dir, "theirs.minisig")); err != nil {
		t.Fatalf("minisign -S with our secret key: %v\n%s", err, out)
	}
	theirs, err := os.ReadFile(filepath.Join(dir, "theirs.minisig"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pk.Verify(msg, theirs); err != nil {
		t.Fatalf("our Verify rejects minisign's signature made with our key: %v", err)
	}
	write(t, filepath.Join(dir, "m.json"), []byte("manifest contentz\n"))
	if out, err := run(t, bin, "-V", "-p", filepath.Join(dir, "k.pub"), "-m", filepath.Join(dir, "m.json")); err == nil {
		t.Fatalf("minisign -V accepts a changed file:\n%s", out)
	}
}

// TestWeVerifyDebianMinisign: keys made by Debian's minisign (without and
// with a password) sign in both modes, and we verify and sign with them.
func TestWeVerifyDebianMinisign(t *testing.T) {
	bin := minisignBin(t)
	dir := t.TempDir()
	pub, sec := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
	if out, err := run(t, bin, "-G", "-W", "-p", pub, "-s", sec); err != nil {
		t.Fatalf("minisign -G -W: %v\n%s", err, out)
	}
	pubData, _ := os.ReadFile(pub)
	secData, _ := os.ReadFile(sec)
	pk, err := ParsePublicKey(pubData)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a manifest\n")
	file := filepath.Join(dir, "m.json")
	write(t, file, msg)
	for _, mode := range []struct {
		name string
		args []string
	}{{"prehashed", nil}, {"legacy", []string{"-l"}}} {
		t.Run(mode.name, func(t *testing.T) {
			sigFile := filepath.Join(dir, mode.name+".minisig")
			args := append([]string{"-S", "-s", sec, "-m", file, "-x", sigFile, "-t", "their comment"}, mode.args...)
			if out, err := run(t, bin, args...); err != nil {
				t.Fatalf("minisign -S: %v\n%s", err, out)
			}
			sig, _ := os.ReadFile(sigFile)
			if tc, err := pk.Verify(msg, sig); err != nil || tc != "their comment" {
				t.Fatalf("Verify(minisign's %s signature) = %q, %v", mode.name, tc, err)
			}
			if _, err := pk.Verify([]byte("another manifest\n"), sig); err == nil {
				t.Fatal("Verify accepts minisign's signature for another message")
			}
		})
	}
	sk, err := ParsePrivateKey(secData, nil)
	if err != nil {
		t.Fatalf("ParsePrivateKey(minisign -G -W key): %v", err)
	}
	sig, err := sk.Sign(msg, "ours with their key")
	if err != nil {
		t.Fatal(err)
	}
	write(t, file+".minisig", sig)
	if out, err := run(t, bin, "-V", "-p", pub, "-m", file); err != nil {
		t.Fatalf("minisign -V rejects our signature made with its key: %v\n%s", err, out)
	}
}

// TestPasswordProtectedKey reads a key minisign -G protected with a
// password: the right password signs, a wrong one is refused.
func TestPasswordProtectedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: minisign's key derivation takes seconds and 1 GiB of memory")
	}
	bin := minisignBin(t)
	dir := t.TempDir()
	pub, sec := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
	cmd := exec.Command(bin, "-G", "-p", pub, "-s", sec)
	cmd.Stdin = strings.NewReader("s3cret\ns3cret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -G: %v\n%s", err, out)
	}
	secData, _ := os.ReadFile(sec)
	pubData, _ := os.ReadFile(pub)
	pk, err := ParsePublicKey(pubData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(secData, nil); err == nil || !strings.Contains(err.Error(), "password-protected") {
		t.Fatalf("ParsePrivateKey without a password: %v, want password-protected", err)
	}
	if _, err := ParsePrivateKey(secData, func() (string, error) { return "wrong", nil }); err == nil {
		t.Fatal("ParsePrivateKey accepts a wrong password")
	}
	sk, err := ParsePrivateKey(secData, func() (string, error) { return "s3cret", nil })
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sk.Sign([]byte("m"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pk.Verify([]byte("m"), sig); err != nil {
		t.Fatal(err)
	}
}
