// Package redact hides the secrets that URLs carry (passwords in userinfo,
// tokens in webhook paths) before the URLs are printed in errors, warnings
// and logs. It only formats strings: it never changes the URL a caller
// connects to.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// invalid stands for a URL that does not parse: it cannot be redacted
// reliably, so it is not shown at all.
const invalid = "(invalid URL)"

// URL returns raw with the password of its userinfo replaced by "xxxxx"
// (url.URL.Redacted). A comma-separated list of URLs (as $MARATHON_URL
// allows) is redacted URL by URL. A URL that does not parse, or parses with
// an opaque part (user:password@host without a scheme reads as scheme
// "user"), is not shown.
func URL(raw string) string {
	if strings.Contains(raw, ",") {
		parts := strings.Split(raw, ",")
		for i, p := range parts {
			parts[i] = URL(strings.TrimSpace(p))
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return invalid
	}
	return u.Redacted()
}

// Webhook returns scheme://host/… for a webhook URL: no userinfo, and no
// path, query or fragment, which often carry the hook's token (Slack,
// Teams, PagerDuty). A URL without any of them is returned as scheme://host.
func Webhook(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return invalid
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		s += "/…"
	}
	return s
}

// Cause returns the cause of a *url.Error (from url.Parse or
// http.Client.Do) without the URL it quotes, which may hold a password or a
// token; other errors are returned as they are.
func Cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
