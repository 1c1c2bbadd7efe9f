package testenv

import (
	"os"
	osexec "os/exec"
	"testing"
)

// Tests that need a second process (a gateway that crashes, another process writing the same files)
// re-execute their own test binary as the child: its TestMain calls MainWithChild, which runs the child's
// work instead of the tests when the environment names it, and the test starts it with RunChild.

// MainWithChild is a test package's TestMain body: when the environment variable env is set, it runs
// child with its value and exits with child's status (the process is a child started by RunChild);
// otherwise it runs the tests.
func MainWithChild(m *testing.M, env string, child func(value string) int) {
	if v := os.Getenv(env); v != "" {
		os.Exit(child(v))
	}
	os.Exit(m.Run())
}

// RunChild runs this test binary as a child with the extra environment variables vars (one of them the
// variable MainWithChild looks for, set) and running no test, and fails t with the child's output when it
// does not exit 0.
func RunChild(t testing.TB, vars ...string) {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), vars...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process (%v): %v\n%s", vars, err, out)
	}
}
