#include "vcap.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

struct edged_vcap {
	cv::VideoCapture cap;
};

static char* dup_string(const std::string& s) {
	char* p = static_cast<char*>(std::malloc(s.size() + 1));
	if (p != nullptr) {
		std::memcpy(p, s.c_str(), s.size() + 1);
	}
	return p;
}

edged_vcap* edged_vcap_open(const char* name, int index, int api, const int* params, int nparams, char** err) {
	edged_vcap* v = nullptr;
	try {
		v = new edged_vcap();
		std::vector<int> p(params, params + nparams);
		bool ok = index >= 0 ? v->cap.open(index, api, p) : v->cap.open(std::string(name), api, p);
		if (!ok || !v->cap.isOpened()) {
			delete v;
			*err = dup_string("OpenCV could not open it");
			return nullptr;
		}
		return v;
	} catch (const std::exception& e) {
		delete v;
		*err = dup_string(e.what());
		return nullptr;
	}
}

int edged_vcap_grab(edged_vcap* v) {
	try {
		return v->cap.grab() ? 1 : 0;
	} catch (...) {
		return 0;
	}
}

int edged_vcap_retrieve(edged_vcap* v, void* mat) {
	try {
		cv::Mat* m = static_cast<cv::Mat*>(mat);
		return v->cap.retrieve(*m) && !m->empty() ? 1 : 0;
	} catch (...) {
		return 0;
	}
}

double edged_vcap_get(edged_vcap* v, int prop) {
	try {
		return v->cap.get(prop);
	} catch (...) {
		return 0;
	}
}

char* edged_vcap_backend(edged_vcap* v) {
	try {
		return dup_string(v->cap.getBackendName());
	} catch (...) {
		return dup_string("");
	}
}

void edged_vcap_close(edged_vcap* v) {
	if (v == nullptr) {
		return;
	}
	try {
		v->cap.release();
	} catch (...) {
	}
	delete v;
}
