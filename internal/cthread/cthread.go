//go:build cgo && linux

// Package cthread runs a C function, one call at a time, on an OS thread
// that C owns. A goroutine inside a long C call keeps its scheduler slot
// (P) for the whole call; after 10 ms the runtime's monitor thread takes the
// slot back and, after each such retake, polls every 20 µs for about a
// millisecond: for a loop of 15 ms model invocations that is over a
// thousand wake-ups a second on a core the pipeline needs. A Thread's
// caller instead waits on an eventfd through the runtime's network poller,
// holding no slot, and the call always runs on the same thread, whose
// caches stay warm.
//
// The function is C code; its argument is C memory from malloc, which the
// Thread owns from Start on and frees in Close.
package cthread

/*
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef int (*edged_call)(void*);

typedef struct {
	int req;  // blocking eventfd: a call (or the stop) is wanted
	int done; // non-blocking eventfd: the call returned (read by Go's poller)
	pthread_t th;
	edged_call fn;
	void* arg;
	int result;
	int stop;
} edged_thread;

static void* edged_thread_main(void* p) {
	edged_thread* t = p;
	for (;;) {
		uint64_t v;
		ssize_t n = read(t->req, &v, sizeof v);
		if (n != (ssize_t)sizeof v) {
			if (n < 0 && errno == EINTR) continue;
			break;
		}
		if (__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) break;
		__atomic_store_n(&t->result, t->fn(t->arg), __ATOMIC_RELEASE);
		v = 1;
		while (write(t->done, &v, sizeof v) < 0 && errno == EINTR) {
		}
	}
	return NULL;
}

// edged_thread_start returns a running thread, or NULL with *err set. The
// done eventfd's descriptor is handed to Go, which closes it.
static edged_thread* edged_thread_start(edged_call fn, void* arg, int* err) {
	edged_thread* t = calloc(1, sizeof *t);
	if (!t) {
		*err = ENOMEM;
		free(arg);
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	t->req = eventfd(0, EFD_CLOEXEC);
	t->done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->req < 0 || t->done < 0) {
		*err = errno;
		if (t->req >= 0) close(t->req);
		if (t->done >= 0) close(t->done);
		free(arg);
		free(t);
		return NULL;
	}
	// The thread blocks every signal: Go's handlers run on Go's threads.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&t->th, NULL, edged_thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		*err = e;
		close(t->req);
		close(t->done);
		free(arg);
		free(t);
		return NULL;
	}
	return t;
}

static int edged_thread_kick(edged_thread* t) {
	uint64_t v = 1;
	for (;;) {
		if (write(t->req, &v, sizeof v) == (ssize_t)sizeof v) return 0;
		if (errno != EINTR) return errno;
	}
}

static int edged_thread_result(edged_thread* t) { return __atomic_load_n(&t->result, __ATOMIC_ACQUIRE); }

// edged_thread_stop ends the thread once its running call (if any) has
// returned, and frees it and its argument; the done descriptor is Go's to
// close.
static void edged_thread_stop(edged_thread* t) {
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	edged_thread_kick(t);
	pthread_join(t->th, NULL);
	close(t->req);
	free(t->arg);
	free(t);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// ErrClosed is returned by Call after Close.
var ErrClosed = errors.New("cthread: closed")

// Thread is an OS thread that runs one C function on request.
type Thread struct {
	mu   sync.Mutex // one call at a time; Close waits for a running call
	t    *C.edged_thread
	done *os.File
	buf  [8]byte
}

// Start starts a thread that will run fn (a C function of type
// int (*)(void*), as cgo gives it: unsafe.Pointer(C.name)) with arg, C
// memory from malloc (or nil) that the Thread frees in Close, or at once
// when Start fails.
func Start(fn, arg unsafe.Pointer) (*Thread, error) {
	if fn == nil {
		C.free(arg)
		return nil, errors.New("cthread: nil function")
	}
	var e C.int
	t := C.edged_thread_start(C.edged_call(fn), arg, &e)
	if t == nil {
		return nil, fmt.Errorf("cthread: start: %w", syscall.Errno(e))
	}
	// A non-blocking descriptor: os makes it wait in the network poller.
	done := os.NewFile(uintptr(t.done), "cthread-done")
	return &Thread{t: t, done: done}, nil
}

// Call runs the function on the thread and returns its result. The calling
// goroutine waits without holding a scheduler slot.
func (t *Thread) Call() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return 0, ErrClosed
	}
	if e := C.edged_thread_kick(t.t); e != 0 {
		return 0, fmt.Errorf("cthread: wake the thread: %w", syscall.Errno(e))
	}
	if _, err := io.ReadFull(t.done, t.buf[:]); err != nil {
		return 0, fmt.Errorf("cthread: wait for the call: %w", err)
	}
	return int(C.edged_thread_result(t.t)), nil
}

// Close stops the thread after a running call returns and frees its
// argument. It is safe to call twice.
func (t *Thread) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return nil
	}
	C.edged_thread_stop(t.t)
	t.t = nil
	return t.done.Close()
}
