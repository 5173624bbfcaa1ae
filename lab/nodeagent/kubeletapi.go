package nodeagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard/switchyard/internal/capool"
)

// KubeletAPI serves the part of the kubelet HTTP API that `kubectl logs`
// needs (GET /containerLogs/{namespace}/{pod}/{container} with follow,
// tailLines and limitBytes) plus /healthz, over TLS with a serving
// certificate of the lab CA. Clients must present a certificate of the lab
// CA in group system:masters (the API server's kubelet client is one);
// anything else gets 403.
type KubeletAPI struct {
	// Runtime finds pod directories.
	Runtime *Runtime
	// CertFile, KeyFile and CAFile are PEM paths (see kube.NodeServingCert).
	CertFile, KeyFile, CAFile string
	// Logger receives serving errors.
	Logger *slog.Logger
}

// Serve listens on addr until ctx ends.
func (k *KubeletAPI) Serve(ctx context.Context, addr string) error {
	pool, err := capool.Load(k.CAFile, false)
	if err != nil {
		return fmt.Errorf("kubelet API: CA: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(k.CertFile, k.KeyFile)
	if err != nil {
		return fmt.Errorf("kubelet API: serving certificate: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("kubelet API: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           authorize(k.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
	}
	if k.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(k.Logger.Handler(), slog.LevelDebug)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// routes is the API without its client authorization (see authorize).
func (k *KubeletAPI) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.logs)
	return mux
}

func authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || !slices.Contains(r.TLS.PeerCertificates[0].Subject.Organization, "system:masters") {
			http.Error(w, "Forbidden: the lab node agent API serves clients in group system:masters only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logs serves a container's log file. Only a container of the pod's spec
// (container, init container or ephemeral container) has one: any other
// name, such as "../../logs/etcd", is answered 404 and never becomes a path.
func (k *KubeletAPI) logs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	dir, spec := k.Runtime.podForLogs(ns, pod)
	if dir == "" {
		http.Error(w, fmt.Sprintf("pod %s/%s is not on node %s", ns, pod, k.Runtime.node), http.StatusNotFound)
		return
	}
	name, ok := specContainer(spec, ctr)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %s/%s has no container %q", ns, pod, ctr), http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(dir, name+".log"))
	if err != nil {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s has no log (has it started?)", ctr, ns, pod), http.StatusNotFound)
		return
	}
	defer f.Close()
	q := r.URL.Query()
	follow, _ := strconv.ParseBool(q.Get("follow"))
	limit := int64(-1)
	if v, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && v > 0 {
		limit = v
	}
	if v, err := strconv.Atoi(q.Get("tailLines")); err == nil && v >= 0 {
		off, err := tailOffset(f, v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	var out io.Writer = w
	if limit > 0 {
		out = &limitWriter{w: w, n: limit}
	}
	fl, _ := w.(http.Flusher)
	for {
		if _, err := io.Copy(out, f); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if lw, ok := out.(*limitWriter); ok && lw.n <= 0 {
			return
		}
		if !follow || k.Runtime.findPodDir(ns, pod) == "" || !k.Runtime.running(ns, pod) {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// specContainer returns the name of the container of pod named name (a
// container, init container or ephemeral container); ok is false when the
// spec has none, when pod is nil, or when the spec's name is not a plain
// file name (the API server validates names as DNS labels; this guards the
// path built from it all the same).
func specContainer(pod *corev1.Pod, name string) (string, bool) {
	if pod == nil {
		return "", false
	}
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	for _, n := range names {
		if n == name && n != "" && n != "." && n != ".." && !strings.ContainsAny(n, `/\`) {
			return n, true
		}
	}
	return "", false
}

// tailOffset returns the offset of the last n lines of f.
func tailOffset(f *os.File, n int) (int64, error) {
	var offs []int64
	var pos int64
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			offs = append(offs, pos)
			pos += int64(len(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if n >= len(offs) {
		return 0, nil
	}
	if n == 0 {
		return pos, nil
	}
	return offs[len(offs)-n], nil
}

type limitWriter struct {
	w io.Writer
	n int64
}

// Write passes at most the remaining byte budget through.
func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

// findPodDir returns the directory of a pod the runtime runs (or ran: the
// newest directory of that namespace/name under <lab dir>/pods).
func (r *Runtime) findPodDir(ns, name string) string {
	if p := r.get(ns, name); p != nil {
		return p.dir
	}
	ents, err := os.ReadDir(r.podsDir)
	if err != nil {
		return ""
	}
	var best string
	var bestMod time.Time
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ns+"_"+name+"_") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(bestMod) {
			best, bestMod = filepath.Join(r.podsDir, e.Name()), info.ModTime()
		}
	}
	return best
}

// podForLogs returns the directory of a pod the runtime runs or ran (see
// findPodDir) and its pod object: the runner's while the pod runs, else the
// one kept in the directory (nil when the directory has none).
func (r *Runtime) podForLogs(ns, name string) (string, *corev1.Pod) {
	if p := r.get(ns, name); p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.dir, p.pod
	}
	dir := r.findPodDir(ns, name)
	if dir == "" {
		return "", nil
	}
	pod, err := readPodFile(dir)
	if err != nil {
		if r.log != nil && !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("container logs: pod object unreadable", "pod", podKey(ns, name), "err", err)
		}
		return dir, nil
	}
	if pod.Namespace != ns || pod.Name != name {
		return dir, nil
	}
	return dir, pod
}

// running reports whether the runtime still runs the pod.
func (r *Runtime) running(ns, name string) bool { return r.get(ns, name) != nil }
