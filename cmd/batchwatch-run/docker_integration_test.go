//go:build integration && linux

package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerImage imports an image holding only the static wrapper and child
// (no base image is needed or available here) and removes it at the end.
func dockerImage(t *testing.T, b bins) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, path := range map[string]string{"batchwatch-run": b.wrapper, "child": b.child} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(data)
	}
	_ = tw.WriteHeader(&tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir})
	_ = tw.Close()
	image := fmt.Sprintf("f-usage-batchwatch-run-test:%d", time.Now().UnixNano())
	cmd := exec.Command("docker", "import", "-", image)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import (is the Docker engine running?): %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	return image
}

func dockerRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"run", "--rm", "-e", "BATCHWATCH_RUN_SEND=false",
		"-e", "AWS_BATCH_JOB_ID=job-in-docker", "-e", "AWS_BATCH_JOB_ATTEMPT=1"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	return code, stderr.String()
}

// In a container of its own the wrapper reads the container's cgroup (v1 on
// this machine's Docker): the memory limit, the CPU quota, the kernel's peak,
// and the kernel's OOM kill.
func TestInContainerCgroup(t *testing.T) {
	b := build(t)
	image := dockerImage(t, b)
	t.Run("peak and limits", func(t *testing.T) {
		code, stderr := dockerRun(t, "--memory", "256m", "--memory-swap", "256m", "--cpus", "0.5", image,
			"/batchwatch-run", "--interval", "200ms", "--", "/child", "hold", "100", "2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := record(t, stderr)
		if !strings.HasPrefix(r.Source, "cgroup-v") || r.JobID != "job-in-docker" {
			t.Fatalf("source %q job %q: the container's cgroup was not used", r.Source, r.JobID)
		}
		// The cgroup counts the two binaries' page cache and the wrapper too.
		if r.MemoryPeakBytes < 100<<20 || r.MemoryPeakBytes > 130<<20 {
			t.Errorf("peak %.1f MiB for a child holding 100 MiB", float64(r.MemoryPeakBytes)/(1<<20))
		}
		if r.MemoryLimitBytes != 256<<20 || r.CPULimitVCPUs != 0.5 || r.OOMKilled {
			t.Errorf("limit %d, cpu limit %.2f, oom %v", r.MemoryLimitBytes, r.CPULimitVCPUs, r.OOMKilled)
		}
	})
	t.Run("oom kill", func(t *testing.T) {
		code, stderr := dockerRun(t, "--memory", "64m", "--memory-swap", "64m", image,
			"/batchwatch-run", "--interval", "200ms", "--", "/child", "hold", "200", "2")
		if code != 137 {
			t.Fatalf("exit %d, want 137: %s", code, stderr)
		}
		if r := record(t, stderr); !r.OOMKilled || r.Signal != "SIGKILL" || r.ExitCode != 137 {
			t.Errorf("record %+v: want an OOM kill", r)
		}
	})
	// The machine is shared: the child gets what the scheduler gives it, which
	// it writes down itself; the cgroup's count adds the wrapper's little.
	t.Run("busy core under a quota", func(t *testing.T) {
		dir := t.TempDir()
		code, stderr := dockerRun(t, "--cpus", "0.5", "-v", dir+":/out", image,
			"/batchwatch-run", "--interval", "500ms", "--", "/child", "spin", "3", "/out/cpu")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := record(t, stderr)
		raw, err := os.ReadFile(filepath.Join(dir, "cpu"))
		if err != nil {
			t.Fatal(err)
		}
		var cpu, wall float64
		if _, err := fmt.Sscan(string(raw), &cpu, &wall); err != nil {
			t.Fatalf("child report %q: %v", raw, err)
		}
		if r.CPUSeconds < cpu || r.CPUSeconds > cpu+0.2 {
			t.Errorf("cgroup counted %.3f CPU seconds, the child used %.3f", r.CPUSeconds, cpu)
		}
		if r.CPUMeanVCPUs > 0.55 || r.CPULimitVCPUs != 0.5 {
			t.Errorf("mean %.3f vCPUs under a %.2f vCPU quota", r.CPUMeanVCPUs, r.CPULimitVCPUs)
		}
	})
}
