//go:build cgo && linux

package cthread

import (
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/cthread/ctest"
)

func TestCallRunsOnTheThread(t *testing.T) {
	n := ctest.Int(0) // the thread's from here on
	th, err := Start(ctest.Incr(), n)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		got, err := th.Call()
		if err != nil || got != i {
			t.Fatalf("call %d: %d, %v", i, got, err)
		}
	}
	if got := ctest.Value(n); got != 100 {
		t.Errorf("counter %d, want 100", got)
	}
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	if err := th.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := th.Call(); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Close: %v, want ErrClosed", err)
	}
}

// TestOneThreadNotTheCallers: every call, from any goroutine, runs on the
// same thread, and that is not the caller's.
func TestOneThreadNotTheCallers(t *testing.T) {
	th, err := Start(ctest.Tid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	first, err := th.Call()
	if err != nil {
		t.Fatal(err)
	}
	if first == syscall.Gettid() {
		t.Fatalf("the call ran on the caller's thread %d", first)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if tid, err := th.Call(); err != nil || tid != first {
					t.Errorf("call ran on thread %d (%v), want %d", tid, err, first)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCloseWaitsForTheRunningCall: Close during a call returns after it.
func TestCloseWaitsForTheRunningCall(t *testing.T) {
	th, err := Start(ctest.Sleep(), ctest.Int(100))
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan int, 1)
	go func() {
		v, _ := th.Call()
		res <- v
	}()
	time.Sleep(20 * time.Millisecond)
	th.Close()
	select {
	case v := <-res:
		if v != 7 {
			t.Errorf("the running call returned %d, want 7", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the running call never returned")
	}
}

func TestStartRejectsNil(t *testing.T) {
	if _, err := Start(nil, nil); err == nil {
		t.Error("Start(nil) worked")
	}
}

func BenchmarkCall(b *testing.B) {
	th, err := Start(ctest.Incr(), ctest.Int(0))
	if err != nil {
		b.Fatal(err)
	}
	defer th.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := th.Call(); err != nil {
			b.Fatal(err)
		}
	}
}
