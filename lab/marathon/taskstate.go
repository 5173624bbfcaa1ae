package marathon

import (
	"math"
	"time"
)

// Mesos task states the lab uses.
const (
	taskStaging  = "TASK_STAGING"
	taskRunning  = "TASK_RUNNING"
	taskKilling  = "TASK_KILLING"
	taskFinished = "TASK_FINISHED"
	taskFailed   = "TASK_FAILED"
	taskKilled   = "TASK_KILLED"
	taskLost     = "TASK_LOST"
)

// taskEvent is something that happens to a task.
type taskEvent int

const (
	// evStarted: the process was started.
	evStarted taskEvent = iota
	// evStartFailed: the process could not be started.
	evStartFailed
	// evKillRequested: Marathon decided to kill the task.
	evKillRequested
	// evExitedOK: the process exited with status 0.
	evExitedOK
	// evExitedFailed: the process exited non-zero or by a signal.
	evExitedFailed
	// evVanished: an adopted process is gone (exit status unknown).
	evVanished
)

// transition is the task state machine: the next state after ev, and
// whether the change counts as a task failure for the launch backoff.
// Unknown transitions leave the state unchanged (ok=false).
func transition(state string, ev taskEvent) (next string, failure bool, ok bool) {
	switch state {
	case taskStaging, taskRunning:
		switch ev {
		case evStarted:
			if state == taskStaging {
				return taskRunning, false, true
			}
		case evStartFailed:
			return taskFailed, true, true
		case evKillRequested:
			return taskKilling, false, true
		case evExitedOK:
			return taskFinished, true, true
		case evExitedFailed:
			return taskFailed, true, true
		case evVanished:
			return taskLost, true, true
		}
	case taskKilling:
		switch ev {
		case evExitedOK, evExitedFailed, evVanished, evStartFailed:
			return taskKilled, false, true
		}
	}
	return state, false, false
}

// terminal reports whether a task state is final.
func terminal(state string) bool {
	switch state {
	case taskFinished, taskFailed, taskKilled, taskLost:
		return true
	}
	return false
}

// instanceCondition maps a task state to Marathon's instance condition.
func instanceCondition(state string) string {
	switch state {
	case taskStaging:
		return "Staging"
	case taskRunning:
		return "Running"
	case taskKilling:
		return "Killing"
	case taskFinished:
		return "Finished"
	case taskFailed:
		return "Failed"
	case taskKilled:
		return "Killed"
	case taskLost:
		return "Unreachable"
	}
	return "Unknown"
}

// nextDelay is Marathon's launch backoff: after a failure the delay becomes
// backoffSeconds for the first failure, then grows by backoffFactor, capped
// at maxLaunchDelaySeconds.
func nextDelay(current time.Duration, backoffSeconds, factor, maxSeconds float64) time.Duration {
	var next float64
	if current <= 0 {
		next = backoffSeconds
	} else {
		next = current.Seconds() * factor
	}
	next = math.Min(next, maxSeconds)
	if next < 0 {
		next = 0
	}
	return time.Duration(next * float64(time.Second))
}
