// The fence keeper's executable (native/fence/keeper.cc), carried inside the addon: CMake builds
// it first and this file embeds its bytes, so the prebuilt addon is all a package ships. At run
// time it is written once to a sealed memfd; vippyd starts it as /proc/self/fd/<n>
// (src/agent/fence.ts), which resolves in the child to the same descriptor.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "addon.h"

#define VIPPY_STRINGIFY2(x) #x
#define VIPPY_STRINGIFY(x) VIPPY_STRINGIFY2(x)

asm(".section .rodata.vippy_fence,\"a\"\n"
    ".balign 16\n"
    ".global vippy_fence_image\n.hidden vippy_fence_image\n"
    "vippy_fence_image:\n"
    ".incbin " VIPPY_STRINGIFY(VIPPY_FENCE_IMAGE) "\n"
    ".global vippy_fence_image_end\n.hidden vippy_fence_image_end\n"
    "vippy_fence_image_end:\n"
    ".previous\n");

extern "C" {
__attribute__((visibility("hidden"))) extern const char vippy_fence_image[];
__attribute__((visibility("hidden"))) extern const char vippy_fence_image_end[];
}

namespace vippy {

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable even where vm.memfd_noexec makes memfds noexec
#endif

int keeperFd = -1;

int CreateImage() {
  int fd = memfd_create("vippy-fence", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("vippy-fence", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw SysError{errno, "memfd_create"};
  const char* at = vippy_fence_image;
  while (at < vippy_fence_image_end) {
    ssize_t n = write(fd, at, static_cast<size_t>(vippy_fence_image_end - at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = n < 0 ? errno : EIO;
      close(fd);
      throw SysError{error, "write"};
    }
    at += n;
  }
  if (fchmod(fd, 0500) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int error = errno;
    close(fd);
    throw SysError{error, "memfd seal"};
  }
  return fd;
}

// "/proc/self/fd/<n>": a path only this process (and a child it starts) can execute.
Napi::Value FenceKeeperPath(const Napi::CallbackInfo& info) {
  if (keeperFd < 0) keeperFd = CreateImage();
  return Napi::String::New(info.Env(), "/proc/self/fd/" + std::to_string(keeperFd));
}

}  // namespace

void InitFence(Napi::Env env, Napi::Object exports) {
  exports.Set("fenceKeeperPath", Napi::Function::New<GuardedMethod<FenceKeeperPath>>(env, "fenceKeeperPath"));
}

}  // namespace vippy
