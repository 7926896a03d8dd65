package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/install.sh fetches Go from the machine's module proxy: the first
// URL of GOPROXY's list.
func TestInstallUsesGOPROXY(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts", "install.sh")
	for _, c := range []struct {
		goproxy, want string
		ok            bool
	}{
		{"https://goproxy.example.internal/", "https://goproxy.example.internal", true},
		{"direct,https://b.example|https://c.example", "https://b.example", true},
		{"http://10.0.0.1:3000|off", "http://10.0.0.1:3000", true},
		{"direct", "names no proxy URL", false},
		{"off", "names no proxy URL", false},
	} {
		cmd := exec.Command(script, "proxy")
		cmd.Env = append(os.Environ(), "GOPROXY="+c.goproxy)
		out, err := cmd.CombinedOutput()
		if (err == nil) != c.ok || !strings.Contains(string(out), c.want) {
			t.Errorf("GOPROXY=%s: %v %q, want ok=%v and %q", c.goproxy, err, out, c.ok, c.want)
		}
	}
}
