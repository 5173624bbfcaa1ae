package control

import "fmt"

// checkPeerUID says why a peer running as uid may not use a socket of a
// process running as self (nil: it may): only the same user and root may.
func checkPeerUID(uid, self uint32) error {
	if uid == self || uid == 0 {
		return nil
	}
	return fmt.Errorf("the peer runs as uid %d, not as us (uid %d) or root", uid, self)
}
