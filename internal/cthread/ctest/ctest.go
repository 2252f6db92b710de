//go:build cgo

// Package ctest holds C functions for cthread's tests (cgo is not allowed in
// _test.go files). Only tests import it.
package ctest

/*
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

// Not static: Go takes their addresses.
// edged_test_incr adds one to the int at p and returns the new value.
int edged_test_incr(void* p) { return ++*(int*)p; }

// edged_test_sleep sleeps for the int at p milliseconds and returns 7.
int edged_test_sleep(void* p) {
	struct timespec ts = {0, (long)(*(int*)p) * 1000000L};
	nanosleep(&ts, NULL);
	return 7;
}

// edged_test_tid returns the calling thread's id.
int edged_test_tid(void* p) { (void)p; return (int)syscall(SYS_gettid); }
*/
import "C"

import "unsafe"

// Incr is int f(void* p) { return ++*(int*)p; }.
func Incr() unsafe.Pointer { return unsafe.Pointer(C.edged_test_incr) }

// Sleep is int f(void* p): sleep *(int*)p ms, return 7.
func Sleep() unsafe.Pointer { return unsafe.Pointer(C.edged_test_sleep) }

// Tid is int f(void*): the id of the thread that runs it.
func Tid() unsafe.Pointer { return unsafe.Pointer(C.edged_test_tid) }

// Int returns C memory (from malloc) holding v.
func Int(v int) unsafe.Pointer {
	p := C.malloc(C.size_t(unsafe.Sizeof(C.int(0))))
	*(*C.int)(p) = C.int(v)
	return p
}

// Value reads the int at p.
func Value(p unsafe.Pointer) int { return int(*(*C.int)(p)) }
