package sqs

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrQueueDoesNotExist is returned (wrapped) by the Go API for unknown queues.
var ErrQueueDoesNotExist = errors.New("the specified queue does not exist")

// apiError is an SQS error as the JSON protocol reports it: HTTP status, the
// shape name in __type, the legacy query code in x-amzn-query-error (which
// the SDKs prefer for SQS, a query-compatible service) and a message.
type apiError struct {
	status int
	shape  string // "QueueDoesNotExist" → "com.amazonaws.sqs#QueueDoesNotExist"
	query  string // "AWS.SimpleQueueService.NonExistentQueue"
	fault  string // "Sender" or "Receiver"
	msg    string
	is     error // sentinel for errors.Is from the Go API
}

func (e *apiError) Error() string { return e.query + ": " + e.msg }

func (e *apiError) Unwrap() error { return e.is }

// typeName is the __type value of the error body.
func (e *apiError) typeName() string {
	if strings.Contains(e.shape, "#") {
		return e.shape
	}
	return "com.amazonaws.sqs#" + e.shape
}

func newError(status int, shape, query, msg string) *apiError {
	return &apiError{status: status, shape: shape, query: query, fault: "Sender", msg: msg}
}

func errQueueDoesNotExist() *apiError {
	e := newError(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
		"The specified queue does not exist.")
	e.is = ErrQueueDoesNotExist
	return e
}

func errInvalidParameterValue(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", fmt.Sprintf(format, args...))
}

func errMissingParameter(name string) *apiError {
	return newError(http.StatusBadRequest, "MissingParameter", "MissingParameter",
		fmt.Sprintf("The request must contain the parameter %s.", name))
}

func errInvalidAttributeName(name string) *apiError {
	return newError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName",
		fmt.Sprintf("Unknown Attribute %s.", name))
}

func errInvalidAttributeValue(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", fmt.Sprintf(format, args...))
}

func errQueueNameExists(attr string) *apiError {
	return newError(http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists",
		fmt.Sprintf("A queue already exists with the same name and a different value for attribute %s", attr))
}

func errReceiptHandleIsInvalid(handle string) *apiError {
	return newError(http.StatusNotFound, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
		fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle))
}

func errEmptyBatchRequest(kind string) *apiError {
	return newError(http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
		fmt.Sprintf("There should be at least one %sRequestEntry in the request.", kind))
}

func errTooManyEntries(n int) *apiError {
	return newError(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
		fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", n))
}

func errBatchEntryIdsNotDistinct(id string) *apiError {
	return newError(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
		fmt.Sprintf("Id %s repeated.", id))
}

func errInvalidBatchEntryID() *apiError {
	return newError(http.StatusBadRequest, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
		"A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
}

func errBatchRequestTooLong(n, limit int) *apiError {
	return newError(http.StatusBadRequest, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
		fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, n))
}

func errPurgeQueueInProgress(name string) *apiError {
	return newError(http.StatusForbidden, "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress",
		fmt.Sprintf("Only one PurgeQueue operation on %s is allowed every 60 seconds.", name))
}

func errInvalidMessageContents(r rune) *apiError {
	return newError(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents",
		fmt.Sprintf("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", r))
}

func errUnsupportedOperation(msg string) *apiError {
	return newError(http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", msg)
}

func errSerialization(err error) *apiError {
	return newError(http.StatusBadRequest, "com.amazon.coral.service#SerializationException", "SerializationException",
		fmt.Sprintf("Start of structure or map found where not expected: %v", err))
}

func errUnknownOperation(target string) *apiError {
	return newError(http.StatusBadRequest, "com.amazon.coral.service#UnknownOperationException", "UnknownOperationException",
		fmt.Sprintf("Unknown operation %s", target))
}

// asAPIError turns any error into an apiError (internal errors become 500s).
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	e := newError(http.StatusInternalServerError, "InternalError", "InternalError", err.Error())
	e.fault = "Receiver"
	return e
}
