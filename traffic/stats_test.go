package traffic

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sampleLine = `{"time":1795599615.218,"route":"web","app":"/web","platform":"marathon","host":"web.test","path":"/x","method":"POST","status":502,"upstream_addr":"127.0.0.3:19002, 127.0.0.2:19001","upstream_status":"502, 502","request_time":0.012,"upstream_response_time":"0.001, 0.000","bytes":300}`

func TestParseLine(t *testing.T) {
	e, err := ParseLine([]byte(sampleLine))
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{
		Time: time.Unix(1795599615, 218e6), Route: "web", App: "/web", Platform: "marathon", Host: "web.test",
		Path: "/x", Method: "POST", Status: 502, UpstreamAddr: "127.0.0.3:19002, 127.0.0.2:19001",
		UpstreamStatus: "502, 502", RequestTime: 12 * time.Millisecond, UpstreamResponseTime: "0.001, 0.000", Bytes: 300,
	}
	if !e.Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", e.Time, want.Time)
	}
	e.Time = want.Time
	if e != want {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
	if e.Tries() != 2 {
		t.Errorf("Tries = %d", e.Tries())
	}
	if _, err := ParseLine([]byte(`GET / 200`)); err == nil {
		t.Error("accepted a non-JSON line")
	}
}

func TestParseAccessLog(t *testing.T) {
	in := sampleLine + "\n\n" + sampleLine + "\n" + `{"time":1795599616` // partial last line
	es, err := ParseAccessLog(strings.NewReader(in))
	if err != nil || len(es) != 2 {
		t.Fatalf("got %d entries, %v", len(es), err)
	}
	_, err = ParseAccessLog(strings.NewReader(sampleLine + "\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v should name line 2", err)
	}
}

func entry(at time.Time, route, platform string, status int, latency time.Duration) Entry {
	return Entry{Time: at, Route: route, Platform: platform, Status: status, RequestTime: latency}
}

func TestWindow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := NewWindow(10 * time.Second)
	// 100 requests on marathon 1..100 ms, 2 of them 5xx; 10 on kubernetes, 1 error.
	for i := 1; i <= 100; i++ {
		status := 200
		if i%50 == 0 {
			status = 503
		}
		w.Add(entry(t0.Add(time.Duration(i)*10*time.Millisecond), "web", Marathon, status, time.Duration(i)*time.Millisecond))
	}
	for i := 0; i < 10; i++ {
		status := 200
		if i == 0 {
			status = 500
		}
		w.Add(entry(t0.Add(2*time.Second), "web", Kubernetes, status, 7*time.Millisecond))
	}
	w.Add(entry(t0, "other", "", 404, 0))
	now := t0.Add(3 * time.Second)

	m := w.Stat(now, "web", Marathon)
	if m.Requests != 100 || m.Errors5xx != 2 || m.ErrorRate != 0.02 || m.P50 != 50*time.Millisecond || m.P99 != 99*time.Millisecond {
		t.Errorf("marathon: %+v", m)
	}
	k := w.Stat(now, "web", Kubernetes)
	if k.Requests != 10 || k.Errors5xx != 1 || k.P50 != 7*time.Millisecond || k.P99 != 7*time.Millisecond {
		t.Errorf("kubernetes: %+v", k)
	}
	all := w.Stat(now, "web", "*")
	if all.Requests != 110 || all.Errors5xx != 3 {
		t.Errorf("all: %+v", all)
	}
	if got := fmt.Sprint(w.Keys(now)); got != "[{other } {web kubernetes} {web marathon}]" {
		t.Errorf("keys = %s", got)
	}
	// The window slides (in whole seconds): 12.5 s later only the kubernetes
	// second (t0+2) is left.
	later := t0.Add(12500 * time.Millisecond)
	if s := w.Stat(later, "web", Marathon); s.Requests != 0 {
		t.Errorf("marathon after slide: %+v", s)
	}
	if s := w.Stat(later, "web", Kubernetes); s.Requests != 10 {
		t.Errorf("kubernetes after slide: %+v", s)
	}
	if s := w.Stat(now, "none", "*"); s != (Stat{}) {
		t.Errorf("unknown route: %+v", s)
	}
}

func TestTailerFollowsAppendsAndRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	now := time.Now()
	line := func(route string, status int) string {
		return fmt.Sprintf(`{"time":%.3f,"route":%q,"platform":"marathon","status":%d,"request_time":0.001}`+"\n",
			float64(now.UnixMilli())/1000, route, status)
	}
	appendTo := func(s string) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(line("old", 200)) // before the tailer starts: not counted
	tl := NewTailer(path, time.Minute, false)
	defer tl.Close()
	if err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	appendTo(line("web", 200) + line("web", 500))
	full := line("web", 200)
	appendTo(full[:20]) // half a line: not counted yet
	if err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if s := tl.Window.Stat(now, "web", "*"); s.Requests != 2 || s.Errors5xx != 1 {
		t.Fatalf("after append: %+v", s)
	}
	appendTo(full[20:] + "garbage\n")
	if err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if s := tl.Window.Stat(now, "web", "*"); s.Requests != 3 {
		t.Fatalf("after completing the line: %+v", s)
	}
	if tl.BadLines() != 1 {
		t.Errorf("bad lines = %d", tl.BadLines())
	}
	// Rotation: what the writer still appended to the old file is read,
	// then the new file at the same path from its start.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	old, err := os.OpenFile(path+".1", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.WriteString(line("web", 200)); err != nil {
		t.Fatal(err)
	}
	old.Close()
	appendTo(line("web", 200))
	if err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if s := tl.Window.Stat(now, "web", "*"); s.Requests != 5 {
		t.Fatalf("after rotation: %+v", s)
	}
	if s := tl.Window.Stat(now, "old", "*"); s.Requests != 0 {
		t.Fatalf("counted lines from before the start: %+v", s)
	}
}

// BenchmarkParseAndCount measures how many access log lines per second the
// stats path (ParseLine + Window.Add) handles; it must stay well above the
// request rate nginx can serve (~40,000 req/s here). One op is 100,000 lines
// (meaningful with -benchtime 1x too).
func BenchmarkParseAndCount(b *testing.B) {
	line := []byte(sampleLine)
	w := NewWindow(time.Minute)
	const lines = 100_000
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < lines; j++ {
			e, err := ParseLine(line)
			if err != nil {
				b.Fatal(err)
			}
			w.Add(e)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
