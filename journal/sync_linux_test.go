//go:build linux && (amd64 || arm64)

package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/switchyard/switchyard/internal/testenv"
)

// syncChildEnv runs TestAppendSyncsEveryEntry as the child process that
// counts its own syncs: "journal" appends through Open and Append,
// "nosync" commits through bbolt opened with NoSync (the control).
const syncChildEnv = "JOURNAL_SYNC_CHILD"

// syncsPrefix starts the child's one line of output: a JSON list of the
// fsync/fdatasync calls made during each append, or "unsupported: ...".
const syncsPrefix = "syncs per entry: "

// TestAppendSyncsEveryEntry proves the journal's fsync: every Append syncs
// the file to disk before it returns. A child process (this test binary
// again) installs a seccomp filter that hands each fsync and fdatasync
// call of the process to a supervisor goroutine before the kernel runs it
// (SECCOMP_RET_USER_NOTIF; the call then proceeds), so the number of syncs
// made during one Append is known when it returns. A durable commit takes
// two: the new pages first, then the meta page that points at them (a meta
// page on disk before its pages would be a corrupt journal after a power
// cut), so the test requires at least two per entry.
//
// With syncing off it fails: were Open to set bbolt's NoSync (or Append to
// commit without syncing), the count per entry would be 0 (1 when the
// append grows the file, which bbolt syncs apart) and the test would say
// "append 1 made 0 syncs before it returned, want at least 2"; checked by
// setting NoSync in Open. TestCrashConsistency
// cannot tell the difference, since a SIGKILLed process loses nothing the
// kernel already holds, synced or not; only a power cut would. The control
// case, bbolt opened with NoSync (and NoGrowSync), must count 0 syncs per
// commit: a counter that sees syncs that are not there fails it.
func TestAppendSyncsEveryEntry(t *testing.T) {
	if mode := os.Getenv(syncChildEnv); mode != "" {
		syncChild(mode, os.Getenv(syncChildEnv+"_PATH"))
		return
	}
	const entries = 5
	for _, tc := range []struct {
		name, mode string
		want       func(n int) bool
		wantText   string
	}{
		{name: "journal Append", mode: "journal", want: func(n int) bool { return n >= 2 }, wantText: "at least 2"},
		{name: "bbolt NoSync (control)", mode: "nosync", want: func(n int) bool { return n == 0 }, wantText: "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAppendSyncsEveryEntry$")
			cmd.Env = append(os.Environ(), syncChildEnv+"="+tc.mode,
				syncChildEnv+"_PATH="+filepath.Join(t.TempDir(), "j.db"), "JOURNAL_SYNC_ENTRIES="+strconv.Itoa(entries))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child %s: %v\n%s", tc.mode, err, out)
			}
			line := ""
			for _, l := range strings.Split(string(out), "\n") {
				if rest, ok := strings.CutPrefix(l, syncsPrefix); ok {
					line = rest
				}
			}
			if rest, ok := strings.CutPrefix(line, "unsupported: "); ok {
				testenv.Missing(t, "counting syncs needs seccomp user notification (Linux 5.7 or later): %s", rest)
			}
			var counts []int
			if err := json.Unmarshal([]byte(line), &counts); err != nil {
				t.Fatalf("child %s printed no sync counts (%v):\n%s", tc.mode, err, out)
			}
			t.Logf("%s: syncs per entry %v", tc.mode, counts)
			if len(counts) != entries {
				t.Fatalf("%d counts for %d entries", len(counts), entries)
			}
			for i, n := range counts {
				if !tc.want(n) {
					t.Errorf("append %d made %d syncs before it returned, want %s", i+1, n, tc.wantText)
				}
			}
		})
	}
}

// syncChild counts the syncs of each of JOURNAL_SYNC_ENTRIES appends to a
// journal at path and prints them on one line (syncsPrefix).
func syncChild(mode, path string) {
	entries, _ := strconv.Atoi(os.Getenv("JOURNAL_SYNC_ENTRIES"))
	counts, err := countSyncs(mode, path, entries)
	var ue unsupportedError
	switch {
	case errors.As(err, &ue):
		fmt.Printf("%sunsupported: %v\n", syncsPrefix, err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "sync child:", err)
		os.Exit(3)
	default:
		b, _ := json.Marshal(counts)
		fmt.Printf("%s%s\n", syncsPrefix, b)
	}
}

// countSyncs opens the store for mode, then counts the syncs made during
// each of n commits.
func countSyncs(mode, path string, n int) ([]int, error) {
	var commit func(i int) error
	switch mode {
	case "journal":
		j, err := Open(path, time.Second)
		if err != nil {
			return nil, err
		}
		defer j.Close()
		commit = func(i int) error {
			return j.Append(context.Background(), &Entry{App: "web", From: "Pending", To: strconv.Itoa(i)})
		}
	case "nosync":
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, NoGrowSync: true})
		if err != nil {
			return nil, err
		}
		defer db.Close()
		commit = func(i int) error {
			return db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("web"))
				if err != nil {
					return err
				}
				return b.Put(key(uint64(i)), []byte(strconv.Itoa(i)))
			})
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	syncs, err := watchSyncs()
	if err != nil {
		return nil, err
	}
	var counts []int
	for i := 1; i <= n; i++ {
		before := syncs.Load()
		if err := commit(i); err != nil {
			return nil, fmt.Errorf("commit %d: %w", i, err)
		}
		counts = append(counts, int(syncs.Load()-before))
	}
	return counts, nil
}

// unsupportedError says the kernel refused the seccomp filter.
type unsupportedError struct{ error }

// The kernel's seccomp user-notification structures (linux/seccomp.h).
type (
	seccompData struct {
		Nr                 int32
		Arch               uint32
		InstructionPointer uint64
		Args               [6]uint64
	}
	seccompNotif struct {
		ID    uint64
		Pid   uint32
		Flags uint32
		Data  seccompData
	}
	seccompNotifResp struct {
		ID    uint64
		Val   int64
		Error int32
		Flags uint32
	}
)

// watchSyncs makes every thread of this process hand each fsync and
// fdatasync call to a supervisor goroutine, which counts it before letting
// it run; it returns the count. It cannot be undone: only a child process
// calls it.
func watchSyncs() (*atomic.Int64, error) {
	if unsafe.Sizeof(seccompNotif{}) != 80 || unsafe.Sizeof(seccompNotifResp{}) != 24 {
		return nil, errors.New("seccomp structures have the wrong size")
	}
	arch := map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[runtime.GOARCH]
	const (
		nrOffset   = 0 // seccomp_data.nr
		archOffset = 4 // seccomp_data.arch
	)
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: archOffset},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: arch}, // another ABI: allow
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: nrOffset},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 2, Jf: 0, K: unix.SYS_FDATASYNC},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: unix.SYS_FSYNC},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return nil, unsupportedError{fmt.Errorf("prctl no_new_privs: %w", err)}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags := unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, unsupportedError{fmt.Errorf("seccomp filter with a listener on every thread: %w", errno)}
	}
	var syncs atomic.Int64
	go func() {
		for {
			var n seccompNotif // the kernel wants it zeroed
			if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); errno != 0 {
				if errno == unix.EINTR || errno == unix.ENOENT {
					continue
				}
				fmt.Fprintln(os.Stderr, "seccomp notification:", errno)
				os.Exit(4)
			}
			syncs.Add(1)
			resp := seccompNotifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			// ENOENT: the call was interrupted meanwhile (it is restarted,
			// and counted again: a count may be high, never low).
			_, _, _ = unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
		}
	}()
	return &syncs, nil
}
