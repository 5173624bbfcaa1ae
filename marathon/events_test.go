package marathon

// SSE framing and stream-mechanics tests. The httptest servers here are not
// Marathon fakes: they write raw text/event-stream bytes and drop connections
// to exercise parsing, filtering parameters and reconnects.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSSEFraming(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []sseEvent
		retry time.Duration
	}{
		{"single", "event: a\ndata: {\"x\":1}\n\n", []sseEvent{{name: "a", data: `{"x":1}`}}, 0},
		{"multi-line data joined by newlines", "data: line1\ndata: line2\ndata:\n\n", []sseEvent{{data: "line1\nline2\n"}}, 0},
		{"comments and keep-alives ignored", ": hello\n:\nevent: a\n: between\ndata: 1\n\n", []sseEvent{{name: "a", data: "1"}}, 0},
		{"CRLF line ends", "event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n", []sseEvent{{name: "a", data: "1"}, {name: "b", data: "2"}}, 0},
		{"CR line ends", "event: a\rdata: 1\r\r", []sseEvent{{name: "a", data: "1"}}, 0},
		{"no space after colon", "event:a\ndata:x\n\n", []sseEvent{{name: "a", data: "x"}}, 0},
		{"only the first space is removed", "data:  two\n\n", []sseEvent{{data: " two"}}, 0},
		{"field without colon", "data\n\n", []sseEvent{{data: ""}}, 0},
		{"event without data is not dispatched and resets the name", "event: a\n\ndata: 2\n\n", []sseEvent{{data: "2"}}, 0},
		{"unknown fields ignored", "foo: bar\ndata: 1\n\n", []sseEvent{{data: "1"}}, 0},
		{"id persists", "id: 7\ndata: a\n\ndata: b\n\n", []sseEvent{{id: "7", data: "a"}, {id: "7", data: "b"}}, 0},
		{"retry field", "retry: 1500\ndata: a\n\n", []sseEvent{{data: "a"}}, 1500 * time.Millisecond},
		{"bad retry ignored", "retry: soon\ndata: a\n\n", []sseEvent{{data: "a"}}, 0},
		{"unterminated last event dropped", "data: a\n\ndata: b\n", []sseEvent{{data: "a"}}, 0},
		{"unterminated last line dropped", "data: a\n\ndata: b", []sseEvent{{data: "a"}}, 0},
		{"leading byte order mark ignored", "\xef\xbb\xbfdata: a\n\n", []sseEvent{{data: "a"}}, 0},
		{"colon in value kept", "data: {\"t\":\"12:00\"}\n\n", []sseEvent{{data: `{"t":"12:00"}`}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSSEReader(strings.NewReader(tt.input))
			var got []sseEvent
			for {
				ev, err := r.next()
				if err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("next: %v", err)
					}
					break
				}
				got = append(got, ev)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %+v, want %+v", got, tt.want)
			}
			if r.retry != tt.retry {
				t.Errorf("retry = %v, want %v", r.retry, tt.retry)
			}
		})
	}
}

func TestSSELineLimit(t *testing.T) {
	r := newSSEReader(io.MultiReader(strings.NewReader("data: "), strings.NewReader(strings.Repeat("x", maxEventLine)), strings.NewReader("\n\n")))
	if _, err := r.next(); err == nil || !strings.Contains(err.Error(), "longer than 16 MiB") {
		t.Errorf("err = %v, want the line limit", err)
	}
}

func TestDecodeEventTyped(t *testing.T) {
	// Payloads from Marathon's event-bus documentation and REST API examples.
	tests := []struct {
		name  string
		event string
		data  string
		check func(t *testing.T, p any)
	}{
		{"status update", "status_update_event", `{"slaveId":"S6","taskId":"foo.0664","taskStatus":"TASK_FAILED","message":"Failed to launch","appId":"/foo","host":"srv5","ports":[31776],"version":"2015-09-30T09:09:17.614Z","eventType":"status_update_event","timestamp":"2015-09-30T12:44:45.681Z"}`,
			func(t *testing.T, p any) {
				e := p.(*StatusUpdateEvent)
				if e.TaskStatus != TaskFailed || e.AppID != "/foo" || e.Ports[0] != 31776 || e.Timestamp != "2015-09-30T12:44:45.681Z" {
					t.Errorf("%+v", e)
				}
			}},
		{"deployment info, doc shape with flat steps and type", "deployment_info", `{"eventType":"deployment_info","timestamp":"2014-03-01T23:29:30.158Z","plan":{"id":"867e","steps":[{"action":"ScaleApplication","app":"/my-app"}],"version":"2014-03-01T23:24:14.846Z"},"currentStep":{"actions":[{"type":"ScaleApplication","app":"/my-app"}]}}`,
			func(t *testing.T, p any) {
				e := p.(*DeploymentInfoEvent)
				if e.Plan.ID != "867e" || len(e.Plan.Steps) != 1 || e.Plan.Steps[0].Actions[0].App != "/my-app" {
					t.Errorf("plan = %+v", e.Plan)
				}
				if e.CurrentStep.Actions[0].Action != ActionScaleApplication {
					t.Errorf("current step = %+v", e.CurrentStep)
				}
			}},
		{"deployment step success, API shape", "deployment_step_success", `{"eventType":"deployment_step_success","timestamp":"t","plan":{"id":"d1","steps":[{"actions":[{"action":"StartApplication","app":"/a"}]},{"actions":[{"action":"ScaleApplication","app":"/a"}]}],"version":"v"},"currentStep":{"actions":[{"action":"StartApplication","app":"/a"}]}}`,
			func(t *testing.T, p any) {
				e := p.(*DeploymentStepSuccessEvent)
				if len(e.Plan.Steps) != 2 || e.Plan.Steps[1].Actions[0].Action != ActionScaleApplication {
					t.Errorf("plan = %+v", e.Plan)
				}
			}},
		{"deployment success", "deployment_success", `{"eventType":"deployment_success","timestamp":"t","id":"867e"}`,
			func(t *testing.T, p any) {
				if e := p.(*DeploymentSuccessEvent); e.ID != "867e" {
					t.Errorf("%+v", e)
				}
			}},
		{"deployment failed", "deployment_failed", `{"eventType":"deployment_failed","timestamp":"t","id":"867e"}`,
			func(t *testing.T, p any) {
				if e := p.(*DeploymentFailedEvent); e.ID != "867e" {
					t.Errorf("%+v", e)
				}
			}},
		{"health status changed", "health_status_changed_event", `{"eventType":"health_status_changed_event","timestamp":"t","appId":"/my-app","instanceId":"my-app.instance-c7c3","version":"v","alive":true}`,
			func(t *testing.T, p any) {
				if e := p.(*HealthStatusChangedEvent); !e.Alive || e.InstanceID != "my-app.instance-c7c3" {
					t.Errorf("%+v", e)
				}
			}},
		{"instance changed", "instance_changed_event", `{"instanceId":"i1","condition":"Running","runSpecId":"/app-id","agentId":"a","host":"h","runSpecVersion":"v","timestamp":"t","eventType":"instance_changed_event"}`,
			func(t *testing.T, p any) {
				if e := p.(*InstanceChangedEvent); e.Condition != "Running" || e.RunSpecID != "/app-id" {
					t.Errorf("%+v", e)
				}
			}},
		{"api post with app definition", "api_post_event", `{"eventType":"api_post_event","timestamp":"t","clientIp":"0:0:0:0:0:0:0:1","uri":"/v2/apps/my-app","appDefinition":{"id":"/my-app","cmd":"sleep 30","instances":2,"cpus":0.2,"mem":32.0}}`,
			func(t *testing.T, p any) {
				e := p.(*APIPostEvent)
				if e.AppDefinition == nil || e.AppDefinition.ID != "/my-app" || e.AppDefinition.Instances == nil || *e.AppDefinition.Instances != 2 {
					t.Errorf("%+v", e)
				}
			}},
		{"app terminated", "app_terminated_event", `{"eventType":"app_terminated_event","timestamp":"t","appId":"/my-app"}`,
			func(t *testing.T, p any) {
				if e := p.(*AppTerminatedEvent); e.AppID != "/my-app" {
					t.Errorf("%+v", e)
				}
			}},
		{"unhealthy task kill", "unhealthy_task_kill_event", `{"appId":"/my-app","taskId":"t1","version":"v","reason":"500 Internal Server Error","host":"localhost","slaveId":"S0","eventType":"unhealthy_task_kill_event","timestamp":"t"}`,
			func(t *testing.T, p any) {
				if e := p.(*UnhealthyTaskKillEvent); e.Reason != "500 Internal Server Error" || e.TaskID != "t1" {
					t.Errorf("%+v", e)
				}
			}},
		{"failed health check", "failed_health_check_event", `{"eventType":"failed_health_check_event","timestamp":"t","appId":"/my-app","taskId":"t1","healthCheck":{"protocol":"HTTP","path":"/health","portIndex":0,"gracePeriodSeconds":5,"intervalSeconds":10,"timeoutSeconds":10,"maxConsecutiveFailures":3}}`,
			func(t *testing.T, p any) {
				e := p.(*FailedHealthCheckEvent)
				if e.TaskID != "t1" || e.HealthCheck == nil || e.HealthCheck.Protocol == nil || *e.HealthCheck.Protocol != ProtocolHTTP {
					t.Errorf("%+v", e)
				}
			}},
		{"attached", "event_stream_attached", `{"remoteAddress":"0:0:0:0:0:0:0:1","eventType":"event_stream_attached","timestamp":"2015-09-30T12:44:30.061Z"}`,
			func(t *testing.T, p any) {
				if e := p.(*StreamAttachEvent); e.RemoteAddress != "0:0:0:0:0:0:0:1" {
					t.Errorf("%+v", e)
				}
			}},
		{"type from eventType when the SSE name is missing", "", `{"eventType":"app_terminated_event","timestamp":"t","appId":"/x"}`,
			func(t *testing.T, p any) {
				if e := p.(*AppTerminatedEvent); e.AppID != "/x" {
					t.Errorf("%+v", e)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent(tt.event, "", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Payload == nil {
				t.Fatalf("no typed payload for %q", ev.Type)
			}
			tt.check(t, ev.Payload)
		})
	}

	t.Run("unknown type keeps data, no payload", func(t *testing.T) {
		ev, err := DecodeEvent("scheduler_registered_event", "", []byte(`{"eventType":"scheduler_registered_event"}`))
		if err != nil || ev.Payload != nil || ev.Type != "scheduler_registered_event" || len(ev.Data) == 0 {
			t.Errorf("ev = %+v, err = %v", ev, err)
		}
	})
	t.Run("malformed payload is an error, data kept", func(t *testing.T) {
		ev, err := DecodeEvent(EventStatusUpdate, "", []byte(`{"ports":"x"}`))
		if err == nil || !strings.Contains(err.Error(), "status_update_event") || string(ev.Data) != `{"ports":"x"}` {
			t.Errorf("ev = %+v, err = %v", ev, err)
		}
	})
}

// sseServer is an event-stream endpoint whose connections the test scripts:
// each connection gets the next script from the channel, and the connection
// closes when the script function returns.
type sseServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	scripts  chan func(ctx context.Context, w io.Writer, flush func())
}

func newSSEServer(t *testing.T) *sseServer {
	s := &sseServer{scripts: make(chan func(context.Context, io.Writer, func()), 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		var script func(context.Context, io.Writer, func())
		select {
		case script = <-s.scripts:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(200)
		fl := w.(http.Flusher)
		fl.Flush()
		script(r.Context(), w, fl.Flush)
	}))
	t.Cleanup(s.Close)
	return s
}

// wait returns after d or when the client has gone.
func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (s *sseServer) request(i int) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.requests) {
		return nil
	}
	return s.requests[i]
}

func recv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed early")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return Event{}
}

func TestEventStreamFilterReconnectAndCancel(t *testing.T) {
	s := newSSEServer(t)
	// First connection: two events (one split over several writes), then drop.
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) {
		fmt.Fprint(w, ": keep-alive\n\nid: 41\nevent: deployment_success\n")
		flush()
		fmt.Fprint(w, "data: {\"eventType\":\"deployment_success\",\"id\":\"d1\",")
		flush()
		fmt.Fprint(w, "\"timestamp\":\"t\"}\n\n")
		fmt.Fprint(w, "event: deployment_failed\ndata: {\"eventType\":\"deployment_failed\",\"id\":\"d2\"}\n\n")
		flush()
	}
	// Second connection: one more event, then hold until the client leaves.
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) {
		fmt.Fprint(w, "event: deployment_success\ndata: {\"id\":\"d3\"}\n\n")
		flush()
		wait(ctx, 50*time.Millisecond)
	}
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) { wait(ctx, time.Minute) }

	c, _ := testClient(t, Config{URL: s.URL, Backoff: testBackoff})
	var drops atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Events(ctx, EventOptions{Types: []string{EventDeploymentSuccess, EventDeploymentFailed}, OnError: func(error) { drops.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ev := recv(t, ch)
	if p, ok := ev.Payload.(*DeploymentSuccessEvent); !ok || p.ID != "d1" || ev.ID != "41" {
		t.Fatalf("first event = %+v", ev)
	}
	if p, ok := recv(t, ch).Payload.(*DeploymentFailedEvent); !ok || p.ID != "d2" {
		t.Fatalf("second event = %+v", p)
	}
	if ev := recv(t, ch); ev.Type != EventReconnected {
		t.Fatalf("after a drop want %s, got %+v", EventReconnected, ev)
	}
	if p, ok := recv(t, ch).Payload.(*DeploymentSuccessEvent); !ok || p.ID != "d3" {
		t.Fatalf("event after reconnect = %+v", p)
	}
	if drops.Load() < 1 {
		t.Error("OnError was not told about the drop")
	}

	r0, r1 := s.request(0), s.request(1)
	if got := r0.URL.Query()["event_type"]; !reflect.DeepEqual(got, []string{"deployment_success", "deployment_failed"}) {
		t.Errorf("event_type filter = %v", got)
	}
	if r0.Header.Get("Accept") != "text/event-stream" {
		t.Errorf("Accept = %q", r0.Header.Get("Accept"))
	}
	if r1 == nil || r1.Header.Get("Last-Event-ID") != "41" || r1.URL.RawQuery != r0.URL.RawQuery {
		t.Errorf("reconnect request: Last-Event-ID=%q query=%q", r1.Header.Get("Last-Event-ID"), r1.URL.RawQuery)
	}

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}

func TestEventStreamNoReconnect(t *testing.T) {
	s := newSSEServer(t)
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) {
		fmt.Fprint(w, "event: app_terminated_event\ndata: {\"appId\":\"/a\"}\n\n")
	}
	c, _ := testClient(t, Config{URL: s.URL, Backoff: testBackoff})
	ch, err := c.Events(context.Background(), EventOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := recv(t, ch).Payload.(*AppTerminatedEvent); !ok || p.AppID != "/a" {
		t.Fatalf("event = %+v", p)
	}
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("want channel closed, got %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after the stream ended")
	}
}

func TestEventStreamIdleTimeoutReconnects(t *testing.T) {
	s := newSSEServer(t)
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) { wait(ctx, time.Minute) } // silent
	s.scripts <- func(ctx context.Context, w io.Writer, flush func()) {
		fmt.Fprint(w, "event: app_terminated_event\ndata: {\"appId\":\"/b\"}\n\n")
		flush()
		wait(ctx, time.Minute)
	}
	c, _ := testClient(t, Config{URL: s.URL, Backoff: testBackoff})
	var lastErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Events(ctx, EventOptions{IdleTimeout: 100 * time.Millisecond, OnError: func(err error) { lastErr.Store(err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.Type != EventReconnected {
		t.Fatalf("want reconnect after idle timeout, got %+v", ev)
	}
	if msg, _ := lastErr.Load().(string); !strings.Contains(msg, "nothing received for 100ms") {
		t.Errorf("OnError got %q", msg)
	}
	if p, ok := recv(t, ch).Payload.(*AppTerminatedEvent); !ok || p.AppID != "/b" {
		t.Fatalf("event = %+v", p)
	}
}

func TestEventStreamOpenErrors(t *testing.T) {
	t.Run("401 is returned by Events", func(t *testing.T) {
		srv, n := statusSequence(t, 401)
		c, _ := testClient(t, Config{URL: srv.URL, Backoff: testBackoff})
		_, err := c.Events(context.Background(), EventOptions{})
		if !IsUnauthorized(err) || n.Load() != 1 {
			t.Errorf("err = %v after %d requests, want one 401", err, n.Load())
		}
	})
	t.Run("503 is retried", func(t *testing.T) {
		srv, n := statusSequence(t, 503)
		c, sleeps := testClient(t, Config{URL: srv.URL, Retries: 2, Backoff: testBackoff})
		_, err := c.Events(context.Background(), EventOptions{})
		if apiStatus(err) != 503 || n.Load() != 3 || len(*sleeps) != 2 {
			t.Errorf("err = %v after %d requests, sleeps %v", err, n.Load(), *sleeps)
		}
	})
	t.Run("not an event stream", func(t *testing.T) {
		srv, n := statusSequence(t, 200)
		c, _ := testClient(t, Config{URL: srv.URL, Backoff: testBackoff})
		_, err := c.Events(context.Background(), EventOptions{})
		if err == nil || !strings.Contains(err.Error(), "GET /v2/events: not an event stream") || !strings.Contains(err.Error(), "is "+srv.URL+" a Marathon?") {
			t.Errorf("err = %v", err)
		}
		if n.Load() != 1 {
			t.Errorf("requests = %d: a wrong content type must not be retried", n.Load())
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		c, _ := testClient(t, Config{URL: refusedURL(t), Retries: 1, Backoff: testBackoff})
		_, err := c.Events(context.Background(), EventOptions{})
		if !IsUnreachable(err) || !strings.Contains(err.Error(), "/v2/events") {
			t.Errorf("err = %v", err)
		}
	})
}

// BenchmarkEventStreamDecode measures SSE framing plus typed decoding of a
// stream of status updates and deployment events, as a busy Marathon sends them.
func BenchmarkEventStreamDecode(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		if i%10 == 0 {
			fmt.Fprintf(&sb, "event: deployment_info\ndata: {\"eventType\":\"deployment_info\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"plan\":{\"id\":\"d%d\",\"version\":\"v\",\"steps\":[{\"actions\":[{\"action\":\"ScaleApplication\",\"app\":\"/prod/web\"}]}]},\"currentStep\":{\"actions\":[{\"action\":\"ScaleApplication\",\"app\":\"/prod/web\"}]}}\n\n", i)
			continue
		}
		fmt.Fprintf(&sb, "event: status_update_event\ndata: {\"slaveId\":\"S0\",\"taskId\":\"prod_web.%d\",\"taskStatus\":\"TASK_RUNNING\",\"message\":\"\",\"appId\":\"/prod/web\",\"host\":\"127.0.1.1\",\"ports\":[31000],\"version\":\"2026-01-01T00:00:00.000Z\",\"eventType\":\"status_update_event\",\"timestamp\":\"2026-01-01T00:00:00.000Z\"}\n\n", i)
	}
	stream := sb.String()
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	events := 0
	for range b.N {
		r := newSSEReader(strings.NewReader(stream))
		for {
			raw, err := r.next()
			if err != nil {
				break
			}
			if _, err := DecodeEvent(raw.name, raw.id, []byte(raw.data)); err != nil {
				b.Fatal(err)
			}
			events++
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
