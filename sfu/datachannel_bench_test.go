package sfu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// BenchmarkDataForward measures the SFU's data path alone: pion client A
// sends 32 KiB messages on a routed "parley/file" channel addressed to
// pion client B, through the SFU, with the browser client's flow control:
// bufferedAmount under a high-water mark toward the SFU, and at most
// window bytes sent and not yet received end to end (files.js acknowledges;
// here the receiver's count is read directly), which keeps the SFU's
// per-recipient queue under its 1 MiB bound. It reports MiB/s; the
// browsers' own figures (e2e BenchmarkDataChannels) add WebCrypto and page
// work.
func BenchmarkDataForward(b *testing.B) {
	s := newTestServer(b)
	a := join(b, s, "bench", "a", clientOptions{data: true})
	r := join(b, s, "bench", "b", clientOptions{data: true})
	open := func(c *testClient) *webrtc.DataChannel {
		waitFor(b, 10*time.Second, c.id+"'s channel to open", func() bool { return c.chat.ReadyState() == webrtc.DataChannelStateOpen })
		dc, err := c.pc.CreateDataChannel(RoutedLabelPrefix+"file", nil)
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, 10*time.Second, c.id+"'s file channel to open", func() bool { return dc.ReadyState() == webrtc.DataChannelStateOpen })
		return dc
	}
	tx := open(a)
	rx := open(r)
	var got atomic.Int64
	rx.OnMessage(func(m webrtc.DataChannelMessage) { got.Add(int64(len(m.Data))) })
	// The receiver's side of the SFU opens its copy of the label when the
	// first message for it arrives; B must hear it.
	r.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { got.Add(int64(len(m.Data))) })
	})

	const chunk = 32 << 10
	msg := route("a", "b", string(make([]byte, chunk)))
	const highWater, lowWater, window = 1 << 20, 256 << 10, 512 << 10
	space := make(chan struct{}, 1)
	tx.SetBufferedAmountLowThreshold(lowWater)
	tx.OnBufferedAmountLow(func() {
		select {
		case space <- struct{}{}:
		default:
		}
	})
	total := int64(b.N) * int64(len(msg))
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	start := time.Now()
	var sent int64
	for range b.N {
		for sent-got.Load() > window {
			time.Sleep(100 * time.Microsecond)
		}
		for tx.BufferedAmount() > highWater {
			select {
			case <-space:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := tx.Send(msg); err != nil {
			b.Fatal(err)
		}
		sent += int64(len(msg))
	}
	waitFor(b, 60*time.Second, "every byte to arrive", func() bool { return got.Load() >= total })
	b.StopTimer()
	b.ReportMetric(float64(total)/(1<<20)/time.Since(start).Seconds(), "MiB/s")
}
