package traffic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Entry is one request from the shared nginx's access log (the "switchyard"
// log_format: one JSON object per line).
type Entry struct {
	// Time is when nginx finished the request (millisecond resolution).
	Time time.Time
	// Route is the route name ("-" when no route matched, "" when the
	// request never reached the routing step).
	Route string
	// App and Platform describe the backend that served the last try.
	App, Platform string
	// Host, Path and Method describe the request.
	Host, Path, Method string
	// Status is the status sent to the client.
	Status int
	// UpstreamAddr and UpstreamStatus list every try, e.g. "127.0.0.2:80, 127.0.0.3:80".
	UpstreamAddr, UpstreamStatus string
	// RequestTime is nginx's total time for the request.
	RequestTime time.Duration
	// UpstreamResponseTime is the upstream time per try, as logged.
	UpstreamResponseTime string
	// Bytes is the number of bytes sent to the client.
	Bytes int64
}

type rawEntry struct {
	Time                 float64 `json:"time"`
	Route                string  `json:"route"`
	App                  string  `json:"app"`
	Platform             string  `json:"platform"`
	Host                 string  `json:"host"`
	Path                 string  `json:"path"`
	Method               string  `json:"method"`
	Status               int     `json:"status"`
	UpstreamAddr         string  `json:"upstream_addr"`
	UpstreamStatus       string  `json:"upstream_status"`
	RequestTime          float64 `json:"request_time"`
	UpstreamResponseTime string  `json:"upstream_response_time"`
	Bytes                int64   `json:"bytes"`
}

// ParseLine decodes one access log line.
func ParseLine(line []byte) (Entry, error) {
	var r rawEntry
	if err := json.Unmarshal(line, &r); err != nil {
		return Entry{}, fmt.Errorf("not a switchyard access log line: %w", err)
	}
	sec, frac := math.Modf(r.Time)
	return Entry{
		Time:                 time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)),
		Route:                r.Route,
		App:                  r.App,
		Platform:             r.Platform,
		Host:                 r.Host,
		Path:                 r.Path,
		Method:               r.Method,
		Status:               r.Status,
		UpstreamAddr:         r.UpstreamAddr,
		UpstreamStatus:       r.UpstreamStatus,
		RequestTime:          time.Duration(math.Round(r.RequestTime*1000)) * time.Millisecond,
		UpstreamResponseTime: r.UpstreamResponseTime,
		Bytes:                r.Bytes,
	}, nil
}

// Tries returns how many backends nginx tried for the request (0 when none).
func (e Entry) Tries() int {
	if e.UpstreamAddr == "" || e.UpstreamAddr == "-" {
		return 0
	}
	return strings.Count(e.UpstreamAddr, ",") + 1
}

// ParseAccessLog reads a whole access log. A malformed line is an error naming
// its line number; an incomplete last line (nginx still writing) is ignored.
func ParseAccessLog(r io.Reader) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Entry
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil // a partial last line is not complete yet
		}
		if err != nil {
			return out, fmt.Errorf("access log line %d: %w", n, err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, perr := ParseLine(line)
		if perr != nil {
			return out, fmt.Errorf("access log line %d: %w", n, perr)
		}
		out = append(out, e)
	}
}

// ms formats a duration in milliseconds for messages.
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms" }
