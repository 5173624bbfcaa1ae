// Package migrate owns the live migration of an app from Marathon to
// Kubernetes: the state machine (a pure transition function, Next, with no
// I/O) and the driver (Executor) that journals every transition before it
// performs the resulting actions through small interfaces (Kubernetes,
// Marathon, Traffic, Stats, Clock).
//
// A migration: Pending → Installing → WaitingReady → Shifting (one step per
// Spec.Steps percentage: set the weights, watch a pause, judge the gates on
// the Kubernetes backends' error rate and p99) → ScalingDownMarathon (its
// backends leave nginx, drain, then the tasks stop; the definition stays) →
// Soaking → Finalizing (the Marathon app is removed) → Finalized. A failed
// gate, a failed or timed-out action, abort or rollback → RollingBack
// (weights back to Marathon — after scaling it up when it was down — then
// Marathon checked healthy, then the Kubernetes release removed) →
// RolledBack.
//
// Restart policy: a restarted executor reads each app's latest journaled
// state, gives it EvRestart with its ResumePolicy (the machine decides
// what a restart does) and performs the resulting state's action again
// (every action is idempotent). By default (ResumeContinue) an in-flight migration continues
// where it stood: mid-shift the journaled weights are re-applied and the
// step is watched for a whole pause again before it is judged. With
// ResumeRollback every migration that had not reached Soaking is rolled
// back instead. A rollback in progress always continues.
package migrate
