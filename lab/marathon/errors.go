package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/marathon"
)

// errorDetail is one entry of the "details" array of Marathon's error bodies.
type errorDetail = marathon.ErrorDetail

// deploymentRef names a deployment in 409 bodies and app answers.
type deploymentRef = marathon.DeploymentRef

// apiError is an HTTP error answer in Marathon's shape.
type apiError struct {
	Status      int             `json:"-"`
	Message     string          `json:"message"`
	Details     []errorDetail   `json:"details,omitempty"`
	Deployments []deploymentRef `json:"deployments,omitempty"`
}

// Error implements error.
func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

func notFound(format string, a ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, a...)}
}

func conflict(format string, a ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Message: fmt.Sprintf(format, a...)}
}

// invalidObject is Marathon's 422 answer for a definition that fails validation.
func invalidObject(details []errorDetail) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Message: "Object is not valid", Details: details}
}

// invalidJSON is Marathon's 400 answer for a body that is not the JSON it expects.
func invalidJSON(prefix string, err error) *apiError {
	d := errorDetail{Path: "/", Errors: []string{"error.expected.jsobject"}}
	if err != nil {
		d = jsonErrorDetail(err)
	}
	d.Path = prefix + d.Path
	if d.Path == "" {
		d.Path = "/"
	}
	return &apiError{Status: http.StatusBadRequest, Message: "Invalid JSON", Details: []errorDetail{d}}
}

// jsonErrorDetail turns a decoding error into a detail with the JSON path of
// the offending member when encoding/json knows it.
func jsonErrorDetail(err error) errorDetail {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := "/"
		if te.Field != "" {
			path = "/" + dotsToSlashes(te.Field)
		}
		return errorDetail{Path: path, Errors: []string{"error.expected.js" + jsKind(te.Type.Kind().String()) + ": got " + te.Value}}
	}
	return errorDetail{Path: "/", Errors: []string{err.Error()}}
}

func dotsToSlashes(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '.' {
			out[i] = '/'
		}
	}
	return string(out)
}

func jsKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int64", "float64", "int32":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	default:
		return "object"
	}
}

// lockedError is Marathon's 409 answer for an object locked by deployments.
func lockedError(kind string, ids []string) *apiError {
	e := &apiError{Status: http.StatusConflict}
	for _, id := range ids {
		e.Deployments = append(e.Deployments, deploymentRef{ID: id})
	}
	first := ""
	if len(ids) > 0 {
		first = ids[0]
	}
	e.Message = fmt.Sprintf("%s is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/%s'.", kind, first)
	return e
}
