// Package e2e holds the offline bundle's end-to-end test: two real
// registries (Debian's docker-registry), the site's one and `switchyard
// bundle install` in a network namespace with only its own loopback, and a
// chart from the bundle deployed on a lab with the rewritten references.
// It has no code of its own.
package e2e
