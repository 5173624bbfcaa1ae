package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CorruptError says the journal file cannot be trusted: its meta pages,
// its size or its page tree are inconsistent. Nothing was written to it.
type CorruptError struct {
	// Path is the journal file.
	Path string
	// Problems are what the check found (at least one).
	Problems []string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal corrupt: restore from backup (%s): %s", e.Path, strings.Join(e.Problems, "; "))
}

// ErrLocked says another process holds the journal (bbolt's lock timeout).
var ErrLocked = bolt.ErrTimeout

// bbolt's on-disk meta page: a 16-byte page header, then the meta.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64 // magic .. checksum, inclusive
	metaPageFlag   = 0x04
	noFreelist     = ^uint64(0)
)

// boltMeta is a decoded meta page.
type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// readMeta decodes the meta page at off of f; it says why the page is not a
// valid meta page.
func readMeta(f io.ReaderAt, off int64) (boltMeta, error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return boltMeta{}, fmt.Errorf("read: %w", err)
	}
	le := binary.LittleEndian
	if flags := le.Uint16(buf[8:]); flags&metaPageFlag == 0 {
		return boltMeta{}, fmt.Errorf("not a meta page (flags %#x)", flags)
	}
	m := buf[pageHeaderSize:]
	if le.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, errors.New("bad magic")
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	if le.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

// validateFile checks what bbolt trusts blindly before it maps the file: a
// non-empty file, a valid meta page (the one bbolt will use: the valid one
// with the highest transaction id) whose page size is sane and whose page
// tree, freelist and high-water mark lie inside the file. A file that fails
// would make bbolt fault on the mapping (SIGBUS) or assert.
func validateFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("journal %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size == 0 {
		if writerHolds(f) { // being created: bbolt writes its first pages under the lock
			return fmt.Errorf("journal %s: another process is creating it: %w", path, ErrLocked)
		}
		return &CorruptError{Path: path, Problems: []string{"the file is empty (0 bytes)"}}
	}
	var problems []string
	m0, err0 := readMeta(f, 0)
	if err0 != nil {
		problems = append(problems, "meta page 0: "+err0.Error())
	}
	// Meta page 1 follows page 0: at meta 0's page size, else at the usual ones.
	sizes := []int64{int64(m0.pageSize)}
	if err0 != nil {
		sizes = []int64{int64(os.Getpagesize()), 4096, 8192, 16384, 65536}
	}
	var m1 boltMeta
	err1 := errors.New("not found")
	for _, ps := range sizes {
		if ps <= 0 {
			continue
		}
		if m, err := readMeta(f, ps); err == nil && int64(m.pageSize) == ps {
			m1, err1 = m, nil
			break
		} else if err != nil {
			err1 = err
		}
	}
	if err1 != nil {
		problems = append(problems, "meta page 1: "+err1.Error())
	}
	var m boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return &CorruptError{Path: path, Problems: problems}
	case err0 != nil:
		m = m1
	case err1 != nil:
		m = m0
	case m1.txid > m0.txid:
		m = m1
	default:
		m = m0
	}
	ps := uint64(m.pageSize)
	switch {
	case ps < 512 || ps > 1<<20 || ps&(ps-1) != 0:
		problems = append(problems, fmt.Sprintf("page size %d", ps))
	case m.pgid < 3 || m.pgid > uint64(size)/ps:
		problems = append(problems, fmt.Sprintf("%d pages of %d bytes, but the file has %d bytes (truncated?)", m.pgid, ps, size))
	case m.root < 2 || m.root >= m.pgid:
		problems = append(problems, fmt.Sprintf("root page %d outside [2, %d)", m.root, m.pgid))
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		problems = append(problems, fmt.Sprintf("freelist page %d outside [2, %d)", m.freelist, m.pgid))
	default:
		// A damaged meta page with a good twin is fine: bbolt uses the twin.
		if problems = scanPages(f, m); len(problems) == 0 {
			return nil
		}
	}
	return &CorruptError{Path: path, Problems: problems}
}

// bbolt's page flags and element sizes.
const (
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	branchElemSize   = 16 // pos, ksize uint32; pgid uint64
	leafElemSize     = 16 // flags, pos, ksize, vsize uint32
	maxScannedBuffer = 64 << 20
)

// scanPages reads every branch and leaf page below the high-water mark
// from the file (not the mapping) and checks that its elements' keys and
// values, and the pages a branch points to, lie inside the page and the
// file: what bbolt dereferences without bounds checks (a fault on the
// mapping, in a goroutine no recover reaches). Pages that do not carry
// their own id (freed pages' overflow, data) are skipped: the walk under
// guard and Tx.Check judge the tree.
func scanPages(f io.ReaderAt, m boltMeta) []string {
	var problems []string
	ps := int64(m.pageSize)
	le := binary.LittleEndian
	hdr := make([]byte, pageHeaderSize)
	for id := uint64(2); id < m.pgid; id++ {
		if _, err := f.ReadAt(hdr, int64(id)*ps); err != nil {
			return append(problems, fmt.Sprintf("page %d: %v", id, err))
		}
		flags, count, overflow := le.Uint16(hdr[8:]), int64(le.Uint16(hdr[10:])), uint64(le.Uint32(hdr[12:]))
		if le.Uint64(hdr) != id || flags&(branchPageFlag|leafPageFlag) == 0 {
			continue
		}
		span := int64(overflow+1) * ps
		if id+overflow >= m.pgid || span > maxScannedBuffer {
			problems = append(problems, fmt.Sprintf("page %d: %d overflow pages beyond the high-water mark %d", id, overflow, m.pgid))
			continue
		}
		page := make([]byte, span)
		if _, err := f.ReadAt(page, int64(id)*ps); err != nil {
			return append(problems, fmt.Sprintf("page %d: %v", id, err))
		}
		if pageHeaderSize+count*branchElemSize > span {
			problems = append(problems, fmt.Sprintf("page %d: %d elements do not fit in %d bytes", id, count, span))
			continue
		}
		for i := int64(0); i < count; i++ {
			at := pageHeaderSize + i*leafElemSize
			e := page[at:]
			var end int64
			if flags&branchPageFlag != 0 {
				end = at + int64(le.Uint32(e[0:])) + int64(le.Uint32(e[4:]))
				if child := le.Uint64(e[8:]); child < 2 || child >= m.pgid {
					problems = append(problems, fmt.Sprintf("branch page %d element %d: child page %d outside [2, %d)", id, i, child, m.pgid))
				}
			} else {
				end = at + int64(le.Uint32(e[4:])) + int64(le.Uint32(e[8:])) + int64(le.Uint32(e[12:]))
			}
			if end > span {
				problems = append(problems, fmt.Sprintf("page %d element %d: key or value ends at byte %d of a %d-byte page", id, i, end, span))
			}
		}
		id += overflow
	}
	return problems
}

// guard runs fn, turning a panic in it (a bbolt assertion, an index out of
// range, or a fault on the mapped file, which SetPanicOnFault makes a
// panic) into an error.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked: %v", r)
		}
	}()
	return fn()
}

// walk reads every page reachable from the root (every bucket, every key
// and value) in the calling goroutine, so that guard catches a fault.
func walk(tx *bolt.Tx) error {
	var sum byte
	defer runtime.KeepAlive(&sum)
	var visit func(b *bolt.Bucket) error
	visit = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sum ^= touch(k)
			if v == nil {
				return visit(b.Bucket(k))
			}
			sum ^= touch(v)
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return visit(b) })
}

// touch reads every byte of b (a key or value in the mapping), so that a
// fault happens here, under guard, rather than in Tx.Check's goroutine.
func touch(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// check runs the consistency check on db: a walk of the page tree under
// guard, then bbolt's Tx.Check (freelist, unreachable pages, key order).
// It returns the problems found.
func check(db *bolt.DB) []string {
	var problems []string
	err := guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if err := walk(tx); err != nil {
				return err
			}
			for err := range tx.Check() {
				problems = append(problems, err.Error())
			}
			return nil
		})
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// openChecked validates path, opens it with opts (under guard) and checks
// it; a file that fails is answered with a *CorruptError.
func openChecked(path string, opts *bolt.Options) (*bolt.DB, error) {
	if _, err := os.Stat(path); err == nil {
		if err := validateFile(path); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) || opts.ReadOnly {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// A panic inside bolt.Open (a corrupt freelist) leaves its file open
	// and locked: keep the file to close it.
	var file *os.File
	opts.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		file = f
		return f, err
	}
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	if err != nil && db == nil && file != nil {
		// bbolt closed nothing when it panicked (its mapping of the file,
		// a few pages, stays until the process exits).
		unlock(file)
		_ = file.Close()
	}
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("journal %s: another process holds it (waited %s): %w", path, opts.Timeout, err)
		}
		if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) || errors.Is(err, bolt.ErrVersionMismatch) || strings.Contains(err.Error(), "panicked") {
			return nil, &CorruptError{Path: path, Problems: []string{err.Error()}}
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if problems := check(db); len(problems) > 0 {
		_ = db.Close()
		return nil, &CorruptError{Path: path, Problems: problems}
	}
	return db, nil
}

// OpenReadOnly opens the journal at path for reading: it never creates nor
// modifies the file (a missing one is an error wrapping os.ErrNotExist), and
// shares the lock with other readers; while a writer holds it, it waits up
// to timeout and then fails with an error wrapping ErrLocked.
func OpenReadOnly(path string, timeout time.Duration) (*Bolt, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	db, err := openChecked(path, &bolt.Options{ReadOnly: true, Timeout: timeout, PreLoadFreelist: true})
	if err != nil {
		return nil, err
	}
	return &Bolt{db: db, path: path}, nil
}

// Check opens the journal at path read-only and runs the consistency
// check. It returns the problems found (nil: consistent), or an error when
// the journal cannot be opened at all (missing, locked).
func Check(path string, timeout time.Duration) ([]string, error) {
	j, err := OpenReadOnly(path, timeout)
	var ce *CorruptError
	if errors.As(err, &ce) {
		return ce.Problems, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, j.Close()
}

// Backup writes a consistent copy of the journal to dest (a read
// transaction: appends may go on meanwhile): to a temporary file in dest's
// directory, synced, then renamed over dest, mode 0600.
func (b *Bolt) Backup(dest string) error {
	if same, _ := sameFile(dest, b.path); same {
		return fmt.Errorf("journal backup %s: that is the journal itself", dest)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("journal backup %s: %w", dest, err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("journal backup %s: %w", dest, err)
	}
	err = b.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	if err != nil {
		return fmt.Errorf("journal backup %s to %s: %w", b.path, dest, err)
	}
	return nil
}

// sameFile says whether a and b name one existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
