package wanterr

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// fakeTB records how Check ended a test: Fatal and Fatalf end the
// goroutine, as they do in a real test; Errorf goes on.
type fakeTB struct {
	testing.TB
	fatal  string
	errors []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatal(args ...any) {
	f.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// run calls Check with a fakeTB in its own goroutine; returned is false
// when Check ended the goroutine.
func run(err error, want []string) (f *fakeTB, wanted, returned bool) {
	f = &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wanted = Check(f, err, want...)
		returned = true
	}()
	<-done
	return f, wanted, returned
}

func TestCheck(t *testing.T) {
	boom := errors.New("parse app.yaml: port 70000 is out of range")
	tests := []struct {
		name       string
		err        error
		want       []string
		wantWanted bool
		wantFatal  string
		wantErrors []string
	}{
		{name: "no error wanted, none", err: nil},
		{name: "empty strings are no want", err: nil, want: []string{"", ""}},
		{name: "unwanted error is fatal", err: boom, wantFatal: boom.Error()},
		{name: "unwanted error, empty want", err: boom, want: []string{""}, wantFatal: boom.Error()},
		{name: "wanted error holds all", err: boom, want: []string{"app.yaml", "out of range"}, wantWanted: true},
		{name: "empty strings ignored beside others", err: boom, want: []string{"", "70000"}, wantWanted: true},
		{name: "wanted error missing is fatal", err: nil, want: []string{"out of range"}, wantFatal: `err = nil, want an error with ["out of range"]`},
		{name: "each missing substring is an error", err: boom, want: []string{"app.yaml", "port 80", "negative"}, wantWanted: true,
			wantErrors: []string{`error "parse app.yaml: port 70000 is out of range" lacks "port 80"`, `error "parse app.yaml: port 70000 is out of range" lacks "negative"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, wanted, returned := run(tc.err, tc.want)
			if f.fatal != tc.wantFatal {
				t.Errorf("fatal = %q, want %q", f.fatal, tc.wantFatal)
			}
			if returned == (tc.wantFatal != "") {
				t.Errorf("returned = %v with fatal %q", returned, f.fatal)
			}
			if returned && wanted != tc.wantWanted {
				t.Errorf("Check = %v, want %v", wanted, tc.wantWanted)
			}
			if fmt.Sprint(f.errors) != fmt.Sprint(tc.wantErrors) {
				t.Errorf("errors = %q, want %q", f.errors, tc.wantErrors)
			}
		})
	}
}
