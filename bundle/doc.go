// Package bundle owns the offline bundle: one tar file with everything a
// migration needs on a site without network access (the switchyard binary,
// the load-balancer module files, the kubelet-wrapper apps and kubelet
// configs of a capacity plan, every app's descriptor, chart and Marathon
// definition, and every container image they reference as an OCI image
// layout), a manifest listing each file's SHA-256 and size, and a minisign
// signature of the manifest.
//
// The tar is not compressed, and its first entry is manifest.json, its
// second manifest.json.minisig (when signed): Verify reads the bundle once,
// as a stream, checking the signature before anything else and each file's
// checksum while it passes, so a 20 GB bundle needs no more memory than a
// copy buffer. Every entry must be a regular file the manifest lists, at a
// clean relative path (no "..", no absolute path, no link, no directory), and
// every listed file must be there: any difference is an *Error naming the
// file.
//
// Create makes a bundle (images are streamed from their registries straight
// into the tar, each blob's digest checked on the way); Install pushes the
// images to a site's registry (digests kept, tags too), and writes the
// files, the image references in the apps' files rewritten to that
// registry. Install is idempotent and resumable: a blob or image the
// registry has is not sent again, a file already in place is left alone,
// and every file is written to a temporary file, synced and renamed.
//
// The package never trusts a bundle: Install verifies the whole bundle
// before it uses any of it, and checks each file's checksum again while it
// copies it.
package bundle
