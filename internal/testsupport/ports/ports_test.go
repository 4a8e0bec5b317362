package ports

import (
	"fmt"
	"net"
	"testing"
)

// TestFree: the port is below the ephemeral range and can be listened on.
func TestFree(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		p := Free(t)
		if p < minPort || p >= low {
			t.Fatalf("port %d outside [%d, %d)", p, minPort, low)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		ln.Close()
	}
}
