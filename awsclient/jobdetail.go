package awsclient

import (
	"encoding/json"
	"fmt"
	"reflect"
	"unicode"
	"unicode/utf8"

	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/batchwatch/batchwatch/batch"
)

// JobFromDetail normalizes a DescribeJobs result the way events are: the
// SDK's JobDetail is written back to AWS's documented JSON shape (member
// names are the Go field names with a lower-case first letter, absent
// members are nil) and handed to batch.ParseJobDetail, so no field of the
// answer is left out by a hand-written copy.
func JobFromDetail(d *batchtypes.JobDetail) (batch.Job, error) {
	b, err := DetailJSON(d)
	if err != nil {
		return batch.Job{}, err
	}
	return batch.ParseJobDetail(b)
}

// DetailJSON writes an SDK output shape as AWS's JSON.
func DetailJSON(v any) ([]byte, error) {
	out, ok := wire(reflect.ValueOf(v))
	if !ok {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("job detail as JSON: %w", err)
	}
	return b, nil
}

// wire converts an SDK value to JSON-ready values; ok is false for an
// absent member (nil pointer, slice or map).
func wire(v reflect.Value) (any, bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return wire(v.Elem())
	case reflect.Struct:
		obj := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue // the SDK's noSmithyDocumentSerde marker
			}
			if w, ok := wire(v.Field(i)); ok {
				obj[memberName(f.Name)] = w
			}
		}
		return obj, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, false
		}
		arr := make([]any, 0, v.Len())
		for i := range v.Len() {
			w, _ := wire(v.Index(i))
			arr = append(arr, w)
		}
		return arr, true
	case reflect.Map:
		if v.IsNil() {
			return nil, false
		}
		obj := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			w, _ := wire(it.Value())
			obj[it.Key().String()] = w
		}
		return obj, true
	case reflect.String:
		if v.Len() == 0 {
			return nil, false // enums the SDK left unset
		}
		return v.String(), true
	default:
		return v.Interface(), true
	}
}

// memberName is the JSON member of an SDK field: AWS Batch's members are
// lowerCamelCase and the SDK upper-cases their first letter.
func memberName(field string) string {
	r, n := utf8.DecodeRuneInString(field)
	return string(unicode.ToLower(r)) + field[n:]
}
