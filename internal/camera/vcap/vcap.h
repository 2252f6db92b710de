// A C face for the parts of cv::VideoCapture that gocv v0.31 does not
// bind: grab and retrieve apart, with grab's result, and open with
// parameters. Every function catches what OpenCV throws.
#ifndef EDGED_VCAP_H
#define EDGED_VCAP_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edged_vcap edged_vcap;

// edged_vcap_open opens name (index >= 0: a device by index, name unused)
// with the backend api and the open parameters (pairs of property and
// value). It returns NULL and sets *err (malloc'd) when OpenCV throws or
// the capture does not open.
edged_vcap* edged_vcap_open(const char* name, int index, int api, const int* params, int nparams, char** err);
// edged_vcap_grab takes the next frame from the source (decoding it, for
// the FFmpeg backend) without converting it: 1 when there is one.
int edged_vcap_grab(edged_vcap* v);
// edged_vcap_retrieve converts the grabbed frame into mat (a cv::Mat*):
// 1 when it did.
int edged_vcap_retrieve(edged_vcap* v, void* mat);
// edged_vcap_get reads a property; 0 when the backend does not know it.
double edged_vcap_get(edged_vcap* v, int prop);
// edged_vcap_backend is the backend's name ("FFMPEG", "GSTREAMER", ...),
// malloc'd.
char* edged_vcap_backend(edged_vcap* v);
// edged_vcap_close releases the capture and frees v.
void edged_vcap_close(edged_vcap* v);

#ifdef __cplusplus
}
#endif

#endif
