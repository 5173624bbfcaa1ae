package marathon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Marathon event types (the SSE "event" field and the "eventType" member).
const (
	EventStreamAttached            = "event_stream_attached"
	EventStreamDetached            = "event_stream_detached"
	EventAPIPost                   = "api_post_event"
	EventStatusUpdate              = "status_update_event"
	EventInstanceChanged           = "instance_changed_event"
	EventUnknownInstanceTerminated = "unknown_instance_terminated_event"
	EventInstanceHealthChanged     = "instance_health_changed_event"
	EventAppTerminated             = "app_terminated_event"
	EventAddHealthCheck            = "add_health_check_event"
	EventRemoveHealthCheck         = "remove_health_check_event"
	EventFailedHealthCheck         = "failed_health_check_event"
	EventHealthStatusChanged       = "health_status_changed_event"
	EventUnhealthyTaskKill         = "unhealthy_task_kill_event"
	EventUnhealthyInstanceKill     = "unhealthy_instance_kill_event"
	EventGroupChangeSuccess        = "group_change_success"
	EventGroupChangeFailed         = "group_change_failed"
	EventDeploymentSuccess         = "deployment_success"
	EventDeploymentFailed          = "deployment_failed"
	EventDeploymentInfo            = "deployment_info"
	EventDeploymentStepSuccess     = "deployment_step_success"
	EventDeploymentStepFailure     = "deployment_step_failure"
	EventPodCreated                = "pod_created_event"
	EventPodUpdated                = "pod_updated_event"
	EventPodDeleted                = "pod_deleted_event"
	EventFrameworkMessage          = "framework_message_event"
	EventSubscribe                 = "subscribe_event"
	EventUnsubscribe               = "unsubscribe_event"

	// EventReconnected is not sent by Marathon: the client delivers it after
	// it re-established a dropped stream, since events may have been missed
	// in between (resynchronise state from the API when you see it).
	EventReconnected = "switchyard_stream_reconnected"
)

// Event is one server-sent event from /v2/events.
type Event struct {
	// Type is the event type (the SSE "event" field, else the "eventType" member).
	Type string
	// ID is the SSE "id" field, if Marathon sent one.
	ID string
	// Data is the event's JSON payload as received.
	Data json.RawMessage
	// Payload is Data decoded into the typed struct for Type (e.g.
	// *DeploymentSuccessEvent), or nil when the type has no typed form.
	Payload any
}

// EventMeta holds the members every Marathon event carries.
type EventMeta struct {
	EventType string `json:"eventType"`
	Timestamp string `json:"timestamp"`
}

// StreamAttachEvent is event_stream_attached / event_stream_detached.
type StreamAttachEvent struct {
	EventMeta
	RemoteAddress string `json:"remoteAddress,omitempty"`
}

// APIPostEvent is api_post_event: an app was created, updated or deleted through the API.
type APIPostEvent struct {
	EventMeta
	ClientIP      string `json:"clientIp"`
	URI           string `json:"uri"`
	AppDefinition *App   `json:"appDefinition,omitempty"`
}

// StatusUpdateEvent is status_update_event: a task changed state.
type StatusUpdateEvent struct {
	EventMeta
	SlaveID     string          `json:"slaveId"`
	TaskID      string          `json:"taskId"`
	TaskStatus  string          `json:"taskStatus"`
	Message     string          `json:"message,omitempty"`
	AppID       string          `json:"appId"`
	Host        string          `json:"host"`
	Ports       []int           `json:"ports,omitempty"`
	IPAddresses []TaskIPAddress `json:"ipAddresses,omitempty"`
	Version     string          `json:"version"`
}

// InstanceChangedEvent is instance_changed_event: an instance changed condition.
type InstanceChangedEvent struct {
	EventMeta
	InstanceID     string `json:"instanceId"`
	Condition      string `json:"condition"`
	RunSpecID      string `json:"runSpecId"`
	AgentID        string `json:"agentId,omitempty"`
	Host           string `json:"host,omitempty"`
	RunSpecVersion string `json:"runSpecVersion,omitempty"`
}

// UnknownInstanceTerminatedEvent is unknown_instance_terminated_event.
type UnknownInstanceTerminatedEvent struct {
	EventMeta
	InstanceID string `json:"instanceId"`
	RunSpecID  string `json:"runSpecId"`
	Condition  string `json:"condition"`
}

// InstanceHealthChangedEvent is instance_health_changed_event.
type InstanceHealthChangedEvent struct {
	EventMeta
	InstanceID     string `json:"instanceId"`
	RunSpecID      string `json:"runSpecId"`
	RunSpecVersion string `json:"runSpecVersion,omitempty"`
	Healthy        *bool  `json:"healthy"`
}

// AppTerminatedEvent is app_terminated_event: all tasks of a deleted app are gone.
type AppTerminatedEvent struct {
	EventMeta
	AppID string `json:"appId"`
}

// HealthCheckEvent is add_health_check_event / remove_health_check_event.
type HealthCheckEvent struct {
	EventMeta
	AppID       string       `json:"appId"`
	Version     string       `json:"version,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// FailedHealthCheckEvent is failed_health_check_event: one check of one task failed.
type FailedHealthCheckEvent struct {
	EventMeta
	AppID       string       `json:"appId"`
	TaskID      string       `json:"taskId,omitempty"`
	InstanceID  string       `json:"instanceId,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// HealthStatusChangedEvent is health_status_changed_event: a task became alive or not.
type HealthStatusChangedEvent struct {
	EventMeta
	AppID      string `json:"appId"`
	InstanceID string `json:"instanceId,omitempty"`
	TaskID     string `json:"taskId,omitempty"`
	Version    string `json:"version,omitempty"`
	Alive      bool   `json:"alive"`
}

// UnhealthyTaskKillEvent is unhealthy_task_kill_event / unhealthy_instance_kill_event.
type UnhealthyTaskKillEvent struct {
	EventMeta
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId,omitempty"`
	InstanceID string `json:"instanceId,omitempty"`
	Version    string `json:"version,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Host       string `json:"host,omitempty"`
	SlaveID    string `json:"slaveId,omitempty"`
}

// GroupChangeEvent is group_change_success / group_change_failed.
type GroupChangeEvent struct {
	EventMeta
	GroupID string `json:"groupId"`
	Version string `json:"version"`
	Reason  string `json:"reason,omitempty"`
}

// DeploymentSuccessEvent is deployment_success: the deployment finished.
type DeploymentSuccessEvent struct {
	EventMeta
	ID   string          `json:"id"`
	Plan *DeploymentPlan `json:"plan,omitempty"`
}

// DeploymentFailedEvent is deployment_failed: the deployment was cancelled or failed.
type DeploymentFailedEvent struct {
	EventMeta
	ID     string          `json:"id"`
	Plan   *DeploymentPlan `json:"plan,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// DeploymentStepEvent is the body of deployment_info, deployment_step_success
// and deployment_step_failure: the plan and the step concerned.
type DeploymentStepEvent struct {
	EventMeta
	Plan        DeploymentPlan `json:"plan"`
	CurrentStep DeploymentStep `json:"currentStep"`
}

// DeploymentInfoEvent is deployment_info: a deployment started a step.
type DeploymentInfoEvent struct{ DeploymentStepEvent }

// DeploymentStepSuccessEvent is deployment_step_success.
type DeploymentStepSuccessEvent struct{ DeploymentStepEvent }

// DeploymentStepFailureEvent is deployment_step_failure.
type DeploymentStepFailureEvent struct{ DeploymentStepEvent }

// PodEvent is pod_created_event / pod_updated_event / pod_deleted_event.
type PodEvent struct {
	EventMeta
	ClientIP string `json:"clientIp"`
	URI      string `json:"uri"`
}

// FrameworkMessageEvent is framework_message_event.
type FrameworkMessageEvent struct {
	EventMeta
	SlaveID    string `json:"slaveId"`
	ExecutorID string `json:"executorId"`
	Message    string `json:"message"`
}

// SubscriptionEvent is subscribe_event / unsubscribe_event (HTTP callback subscribers).
type SubscriptionEvent struct {
	EventMeta
	ClientIP    string `json:"clientIp"`
	CallbackURL string `json:"callbackUrl"`
}

// eventPayloads maps each typed event type to a constructor of its payload.
var eventPayloads = map[string]func() any{
	EventStreamAttached:            func() any { return new(StreamAttachEvent) },
	EventStreamDetached:            func() any { return new(StreamAttachEvent) },
	EventAPIPost:                   func() any { return new(APIPostEvent) },
	EventStatusUpdate:              func() any { return new(StatusUpdateEvent) },
	EventInstanceChanged:           func() any { return new(InstanceChangedEvent) },
	EventUnknownInstanceTerminated: func() any { return new(UnknownInstanceTerminatedEvent) },
	EventInstanceHealthChanged:     func() any { return new(InstanceHealthChangedEvent) },
	EventAppTerminated:             func() any { return new(AppTerminatedEvent) },
	EventAddHealthCheck:            func() any { return new(HealthCheckEvent) },
	EventRemoveHealthCheck:         func() any { return new(HealthCheckEvent) },
	EventFailedHealthCheck:         func() any { return new(FailedHealthCheckEvent) },
	EventHealthStatusChanged:       func() any { return new(HealthStatusChangedEvent) },
	EventUnhealthyTaskKill:         func() any { return new(UnhealthyTaskKillEvent) },
	EventUnhealthyInstanceKill:     func() any { return new(UnhealthyTaskKillEvent) },
	EventGroupChangeSuccess:        func() any { return new(GroupChangeEvent) },
	EventGroupChangeFailed:         func() any { return new(GroupChangeEvent) },
	EventDeploymentSuccess:         func() any { return new(DeploymentSuccessEvent) },
	EventDeploymentFailed:          func() any { return new(DeploymentFailedEvent) },
	EventDeploymentInfo:            func() any { return new(DeploymentInfoEvent) },
	EventDeploymentStepSuccess:     func() any { return new(DeploymentStepSuccessEvent) },
	EventDeploymentStepFailure:     func() any { return new(DeploymentStepFailureEvent) },
	EventPodCreated:                func() any { return new(PodEvent) },
	EventPodUpdated:                func() any { return new(PodEvent) },
	EventPodDeleted:                func() any { return new(PodEvent) },
	EventFrameworkMessage:          func() any { return new(FrameworkMessageEvent) },
	EventSubscribe:                 func() any { return new(SubscriptionEvent) },
	EventUnsubscribe:               func() any { return new(SubscriptionEvent) },
}

// DecodeEvent builds an Event from an SSE event name and its data: the type
// comes from the name (or the data's "eventType" when the name is empty or
// "message") and the payload is decoded into its typed struct. A payload that
// does not decode is an error; the Event is still returned with Data set.
func DecodeEvent(name, id string, data []byte) (Event, error) {
	ev := Event{Type: name, ID: id, Data: json.RawMessage(data)}
	if ev.Type == "" || ev.Type == "message" {
		var meta EventMeta
		if json.Unmarshal(data, &meta) == nil && meta.EventType != "" {
			ev.Type = meta.EventType
		}
	}
	mk, ok := eventPayloads[ev.Type]
	if !ok {
		return ev, nil
	}
	p := mk()
	if err := json.Unmarshal(data, p); err != nil {
		return ev, fmt.Errorf("decode %s event: %w", ev.Type, err)
	}
	ev.Payload = p
	return ev, nil
}

// sseEvent is one raw server-sent event.
type sseEvent struct {
	name, id, data string
}

// sseReader parses a text/event-stream as the WHATWG HTML specification
// describes it: fields event/data/id/retry, comments (":"), multi-line data,
// LF, CRLF or CR line ends, and dispatch on an empty line.
type sseReader struct {
	r           *bufio.Reader
	lastEventID string
	retry       time.Duration // set by a "retry:" field; 0 when none
	onLine      func()        // called for every line read (idle watchdog)
	started     bool          // the byte order mark check is done
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns one line without its terminator (LF, CRLF or CR).
func (s *sseReader) readLine() (string, error) {
	if !s.started {
		s.started = true
		// A leading byte order mark is ignored. ReadRune returns as soon as
		// it has one whole rune, so this never waits for more data.
		if r, _, err := s.r.ReadRune(); err == nil && r != '\uFEFF' {
			_ = s.r.UnreadRune()
		}
	}
	var b []byte
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				// An unterminated last line is dropped with its event, per spec.
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if n, err := s.r.Peek(1); err == nil && n[0] == '\n' {
				_, _ = s.r.ReadByte()
			}
			return string(b), nil
		}
		if len(b) >= maxEventLine {
			return "", fmt.Errorf("event stream line longer than %d MiB: is this a Marathon event stream?", maxEventLine>>20)
		}
		b = append(b, c)
	}
}

// maxEventLine bounds one line of the event stream (a whole app definition
// in an api_post_event is far smaller).
const maxEventLine = 16 << 20

// next returns the next complete event; it returns an error (io.EOF when the
// stream ended cleanly) when no complete event is left.
func (s *sseReader) next() (sseEvent, error) {
	var name string
	var data strings.Builder
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if s.onLine != nil {
			s.onLine()
		}
		if line == "" {
			if !hasData {
				name = ""
				continue
			}
			d := strings.TrimSuffix(data.String(), "\n")
			return sseEvent{name: name, id: s.lastEventID, data: d}, nil
		}
		if line[0] == ':' {
			continue // comment (keep-alive)
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			name = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				s.lastEventID = value
			}
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// EventOptions configures Client.Events.
type EventOptions struct {
	// Types subscribes to these event types only (Marathon's event_type filter); empty means all.
	Types []string
	// Buffer is the capacity of the returned channel (default 64).
	Buffer int
	// IdleTimeout drops and re-opens a stream that sent nothing (not even a
	// keep-alive comment) for this long; 0 means never.
	IdleTimeout time.Duration
	// NoReconnect ends the stream (closes the channel) when the connection drops
	// instead of reconnecting.
	NoReconnect bool
	// OnError is called (from the stream's goroutine) with each error that
	// drops the stream or fails a reconnect, and with undecodable events.
	OnError func(error)
}

// Events subscribes to Marathon's /v2/events stream. The first connection is
// made before Events returns (an error then means Marathon refused or could not
// be reached). Events arrive on the returned channel, which is closed when ctx
// is cancelled (or, with NoReconnect, when the stream drops). A dropped stream
// is re-opened with backoff, and an EventReconnected event marks the gap.
func (c *Client) Events(ctx context.Context, opts EventOptions) (<-chan Event, error) {
	q := url.Values{}
	for _, t := range opts.Types {
		q.Add("event_type", t)
	}
	endpoint := "/v2/events"
	if len(q) > 0 {
		endpoint += "?" + q.Encode()
	}
	body, err := c.openStream(ctx, endpoint, "")
	if err != nil {
		return nil, err
	}
	n := opts.Buffer
	if n <= 0 {
		n = 64
	}
	ch := make(chan Event, n)
	go c.streamLoop(ctx, endpoint, body, opts, ch)
	return ch, nil
}

// streamConn is an open event stream: its body and the cancel of its context.
type streamConn struct {
	body       io.ReadCloser
	cancel     context.CancelFunc
	base       string
	retryDelay time.Duration // the server's "retry:" advice
}

// openStream connects to the event stream, with the same retry rules as other
// GET requests; the response header must arrive within the client timeout.
func (c *Client) openStream(ctx context.Context, endpoint, lastEventID string) (*streamConn, error) {
	var conn *streamConn
	var notStream error // a 200 answer that is no event stream: not retried
	_, _, err := c.withRetries(ctx, http.MethodGet, endpoint, func(base *url.URL) (*reply, error) {
		sc, rep, err := c.openStreamOnce(ctx, base.String(), endpoint, lastEventID)
		if errors.Is(err, errNotEventStream) {
			notStream = err
			return &reply{status: http.StatusOK}, nil
		}
		conn = sc
		return rep, err
	})
	switch {
	case err != nil:
		return nil, err
	case notStream != nil:
		return nil, fmt.Errorf("marathon GET %s: %w", endpoint, notStream)
	}
	return conn, nil
}

// errNotEventStream is a 200 answer to /v2/events that is not text/event-stream.
var errNotEventStream = errors.New("not an event stream (text/event-stream)")

// openStreamOnce makes one connection attempt. On a non-200 answer it returns
// a nil conn and the answer (status, headers, body).
func (c *Client) openStreamOnce(ctx context.Context, base, endpoint, lastEventID string) (*streamConn, *reply, error) {
	sctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, base+endpoint, nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", c.userAgent)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	c.authorize(req)
	var timer *time.Timer
	timedOut := make(chan struct{})
	if c.cfg.Timeout > 0 {
		timer = time.AfterFunc(c.cfg.Timeout, func() { close(timedOut); cancel() })
	}
	resp, err := c.http.Do(req)
	if timer != nil && !timer.Stop() {
		<-timedOut
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, nil, fmt.Errorf("no answer within %s: %w", c.cfg.Timeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		cancel()
		return nil, &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("%w: the answer is %q: is %s a Marathon?", errNotEventStream, resp.Header.Get("Content-Type"), base)
	}
	return &streamConn{body: resp.Body, cancel: cancel, base: base}, &reply{status: http.StatusOK, header: resp.Header}, nil
}

// streamLoop reads events from conn and delivers them on ch, reconnecting when
// the stream drops, until ctx is done.
func (c *Client) streamLoop(ctx context.Context, endpoint string, conn *streamConn, opts EventOptions, ch chan<- Event) {
	defer close(ch)
	report := func(err error) {
		if opts.OnError != nil && err != nil {
			opts.OnError(err)
		}
	}
	lastID := ""
	for {
		err := c.readStream(ctx, conn, opts, ch, &lastID)
		if ctx.Err() != nil {
			return
		}
		report(fmt.Errorf("marathon event stream %s%s dropped: %w", conn.base, endpoint, err))
		if opts.NoReconnect {
			return
		}
		// Reconnect: openStream retries per the client's policy; beyond that,
		// keep trying with the maximum backoff until ctx ends.
		retryDelay := conn.retryDelay
		for {
			if serr := c.sleep(ctx, max(retryDelay, c.backoff.Delay(0, c.jitter()))); serr != nil {
				return
			}
			next, err := c.openStream(ctx, endpoint, lastID)
			if err == nil {
				conn = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			report(fmt.Errorf("reconnect to marathon event stream: %w", err))
			retryDelay = c.backoff.Max
		}
		select {
		case ch <- Event{Type: EventReconnected}:
		case <-ctx.Done():
			conn.close()
			return
		}
	}
}

// readStream delivers the events of one connection until it fails or ends.
func (c *Client) readStream(ctx context.Context, conn *streamConn, opts EventOptions, ch chan<- Event, lastID *string) error {
	defer conn.close()
	sr := newSSEReader(conn.body)
	var idle atomic.Bool
	if opts.IdleTimeout > 0 {
		t := time.AfterFunc(opts.IdleTimeout, func() { idle.Store(true); conn.cancel() })
		defer t.Stop()
		sr.onLine = func() { t.Reset(opts.IdleTimeout) }
	}
	defer func() { conn.retryDelay = sr.retry }()
	for {
		raw, err := sr.next()
		if err != nil {
			if idle.Load() {
				return fmt.Errorf("nothing received for %s", opts.IdleTimeout)
			}
			if errors.Is(err, io.EOF) {
				return errors.New("the server closed the stream")
			}
			return err
		}
		*lastID = sr.lastEventID
		ev, derr := DecodeEvent(raw.name, raw.id, []byte(raw.data))
		if derr != nil && opts.OnError != nil {
			opts.OnError(derr)
		}
		select {
		case ch <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *streamConn) close() {
	s.body.Close()
	s.cancel()
}
