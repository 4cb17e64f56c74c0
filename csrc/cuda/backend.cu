// CUDA backend. For now it reports the devices it sees; kernels join behind the backend interface as the runtime
// grows. system_info says so rather than pretending to offload anything.
#include <cuda_runtime.h>

#include <string>

namespace lc::cuda {

namespace {
__global__ void fill_f32(float* dst, float value, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = value;
}
}  // namespace

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error (no driver, no device)
        return 0;
    }
    return n;
}

// Round-trips a small buffer through the device; true when a GPU is usable.
bool self_test() {
    if (device_count() == 0) return false;
    float* d = nullptr;
    if (cudaMalloc(&d, 256 * sizeof(float)) != cudaSuccess) return false;
    fill_f32<<<1, 256>>>(d, 2.5f, 256);
    float h[256] = {};
    bool ok = cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost) == cudaSuccess && h[0] == 2.5f && h[255] == 2.5f;
    cudaFree(d);
    return ok;
}

std::string backend_info() {
    int n = device_count();
    std::string s = "devices = " + std::to_string(n);
    if (n > 0) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) s += ", " + std::string(p.name);
    }
    return s + ", offloaded ops = none yet: the CPU backend runs the model";
}

}  // namespace lc::cuda
