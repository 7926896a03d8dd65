package submitter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ManifestEntry is one line of an array job's manifest: line i (counting
// from 0) is the item of the child with AWS_BATCH_JOB_ARRAY_INDEX=i.
type ManifestEntry struct {
	Index    int               `json:"index"`
	Key      string            `json:"key"`
	Size     float64           `json:"size"`
	Tier     string            `json:"tier"`
	Priority string            `json:"priority"`
	Params   map[string]string `json:"params,omitempty"`
}

// EncodeManifest renders entries as JSON lines, one per child, in index
// order.
func EncodeManifest(entries []ManifestEntry) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range entries {
		// Encoding a struct of strings, numbers and a string map cannot fail.
		_ = enc.Encode(&entries[i])
	}
	return b.Bytes()
}

// ReadManifestEntry returns the entry of one array index from a manifest,
// reading only as far as that line: what a child job does with
// AWS_BATCH_JOB_ARRAY_INDEX.
func ReadManifestEntry(r io.Reader, index int) (ManifestEntry, error) {
	if index < 0 {
		return ManifestEntry{}, fmt.Errorf("array index %d is negative", index)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for i := 0; sc.Scan(); i++ {
		if i < index {
			continue
		}
		var e ManifestEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return ManifestEntry{}, fmt.Errorf("manifest line %d: %w", i+1, err)
		}
		if e.Index != index {
			return ManifestEntry{}, fmt.Errorf("manifest line %d holds index %d, not %d", i+1, e.Index, index)
		}
		return e, nil
	}
	if err := sc.Err(); err != nil {
		return ManifestEntry{}, fmt.Errorf("read manifest: %w", err)
	}
	return ManifestEntry{}, fmt.Errorf("manifest has no line for array index %d", index)
}

// ManifestStore writes manifests where jobs can read them.
type ManifestStore interface {
	// Put stores data under name (relative, '/'-separated) and returns the
	// URL jobs read it from. Writing the same name again replaces it.
	Put(ctx context.Context, name string, data []byte) (string, error)
}

// S3API is the part of the S3 client manifests need.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// OpenManifests parses a manifest destination: s3://bucket/prefix or
// file:///absolute/dir. s3 may be nil for file destinations.
func OpenManifests(dest string, client S3API) (ManifestStore, error) {
	u, err := url.Parse(dest)
	if err != nil {
		return nil, fmt.Errorf("manifest destination %q: %w", dest, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("manifest destination %q: no bucket", dest)
		}
		if client == nil {
			return nil, fmt.Errorf("manifest destination %q: no S3 client", dest)
		}
		return &S3Manifests{Client: client, Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("manifest destination %q: file URLs name a local path (file:///dir)", dest)
		}
		if !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("manifest destination %q: the path must be absolute", dest)
		}
		return &FileManifests{Dir: u.Path}, nil
	}
	return nil, fmt.Errorf("manifest destination %q: use s3://bucket/prefix or file:///dir", dest)
}

// S3Manifests stores manifests as S3 objects.
type S3Manifests struct {
	Client S3API
	Bucket string
	Prefix string
}

// Put implements ManifestStore.
func (m *S3Manifests) Put(ctx context.Context, name string, data []byte) (string, error) {
	key := path.Join(m.Prefix, name)
	_, err := m.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(m.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String("application/x-ndjson"),
	})
	if err != nil {
		return "", fmt.Errorf("put manifest s3://%s/%s: %w", m.Bucket, key, err)
	}
	return "s3://" + m.Bucket + "/" + key, nil
}

// FileManifests stores manifests in a local directory (local runs, or a
// file system the jobs mount).
type FileManifests struct {
	Dir string
}

// Put implements ManifestStore: it writes a temporary file and renames it,
// so a reader never sees half a manifest.
func (m *FileManifests) Put(_ context.Context, name string, data []byte) (string, error) {
	p := filepath.Join(m.Dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("manifest directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".manifest-*")
	if err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write manifest: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}
