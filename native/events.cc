// Events: one netlink socket subscribed to link, neighbour and IPv4/IPv6 address groups,
// polled with uv_poll on the main loop (no threads). Each wake-up drains what is queued and
// hands the parsed events to the JS callback in one call. Lost events are reported as an
// 'overrun' and watching goes on; any other failure stops the watcher for good and is reported
// as a last 'failed' event, so it can neither spin nor go quiet unannounced.
#include <linux/rtnetlink.h>
#include <uv.h>

#include "addon.h"
#include "addresses.h"
#include "links.h"
#include "neighbours.h"

namespace vippy {

namespace {

constexpr uint32_t kGroups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
// Room for bursts (a link flap with many addresses) before the kernel reports ENOBUFS.
constexpr int kReceiveBuffer = 1 << 20;
// Datagrams read per wake-up, so a flood cannot starve the loop; the poll fires again.
constexpr int kReadsPerWake = 64;

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Watcher",
                       {InstanceMethod<&Watcher::Close>("close"), InstanceMethod<&Watcher::Unref>("unref"),
                        InstanceMethod<&Watcher::Ref>("ref")});
  }

  explicit Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) ThrowTypeError(env, "watch: onEvents must be a function");
    Guarded(env, [&] { socket_.Open(kGroups, kReceiveBuffer); });
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "watch: no event loop");
    auto* poll = new uv_poll_t;
    poll->data = this;
    int rc = uv_poll_init(loop, poll, socket_.fd());
    if (rc != 0) {
      // Never initialised: libuv does not know the handle, so it is freed here, not uv_close()d.
      delete poll;
      socket_.Close();
      throw ToJsError(env, SysError{-rc, "uv_poll_init"});
    }
    poll_ = poll;
    rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (rc != 0) {
      StopPolling();
      throw ToJsError(env, SysError{-rc, "uv_poll_start"});
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "vippy.watch");
    // An open watcher keeps delivering even when JS drops its last reference to it.
    Napi::ObjectWrap<Watcher>::Ref();
    open_ = true;
  }

  ~Watcher() override { StopPolling(); }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  // Closed for good: no more callbacks, and the JS object may be collected.
  void Shutdown() {
    if (!open_) return;
    open_ = false;
    StopPolling();
    callback_.Reset();
    Napi::ObjectWrap<Watcher>::Unref();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  void StopPolling() {
    if (!poll_) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    socket_.Close();  // after uv_poll_stop: libuv no longer watches the fd
  }

  static void OnReadable(uv_poll_t* handle, int status, int) {
    static_cast<Watcher*>(handle->data)->Deliver(status);
  }

  // pollStatus < 0: libuv saw POLLERR and has already stopped the handle (it passes UV_EBADF
  // whatever the cause). On a netlink socket the cause is the kernel's ENOBUFS (events dropped),
  // which the next recv returns and clears: the queued events are read, an overrun is reported
  // and polling resumes. A poll error with no such cause, or any other receive failure, stops
  // the watcher and ends the batch with a 'failed' event.
  void Deliver(int pollStatus) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Array events = Napi::Array::New(env);
    uint32_t count = 0;
    bool overran = false;
    SysError failure;  // code 0: none
    InterfaceNames names(env);
    for (int i = 0; i < kReadsPerWake; i++) {
      ssize_t length = socket_.Receive(MSG_DONTWAIT);
      if (length == -EAGAIN) break;
      if (length == -ENOBUFS || length == -EMSGSIZE) {
        // The kernel dropped events (or one did not fit the buffer): the reader must re-dump.
        if (!overran) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("type", "overrun");
          events.Set(count++, o);
        }
        overran = true;
        continue;
      }
      if (length < 0) {
        failure = SysError{static_cast<int>(-length), "recv", "", "", -1, "", "the event watcher has stopped"};
        break;
      }
      ForEachMessage(socket_.data(), static_cast<size_t>(length), [&](const nlmsghdr* h) {
        Napi::Object event = Parse(env, h, names);
        if (!event.IsEmpty()) events.Set(count++, event);
      });
    }
    if (pollStatus < 0 && failure.code == 0) {
      if (!overran) {
        failure = SysError{-pollStatus, "uv_poll", "", "", -1, "",
                           "poll reported an error that the socket did not explain; the event watcher has stopped"};
      } else if (int rc = uv_poll_start(poll_, UV_READABLE, OnReadable); rc != 0) {
        failure = SysError{-rc, "uv_poll_start", "", "", -1, "", "the event watcher has stopped"};
      }
    }
    if (failure.code != 0) {
      StopPolling();  // before the callback: nothing more is read, whatever JS does
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "failed");
      o.Set("error", ToJsError(env, failure).Value());
      events.Set(count++, o);
    }
    if (count > 0) {
      try {
        callback_.MakeCallback(Value(), {events}, *context_);
      } catch (const Napi::Error& e) {
        // No JS frame to return to: hand it to the process like any uncaught exception.
        napi_fatal_exception(env, e.Value());
      }
    }
    if (failure.code != 0) Shutdown();
  }

  static Napi::Object Parse(Napi::Env env, const nlmsghdr* h, InterfaceNames& names) {
    Napi::Object event;
    const char* type = nullptr;
    switch (h->nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
        event = LinkToJs(env, ParseLink(h));
        type = "link";
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        event = AddressToJs(env, h, names);
        type = "address";
        break;
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH:
        // Incomplete and failed entries are news too (a host went away): keep them.
        event = NeighbourToJs(env, h, names, false);
        type = "neighbour";
        break;
      default:
        return Napi::Object();
    }
    if (event.IsEmpty()) return event;
    bool added = h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_NEWNEIGH;
    event.Set("type", type);
    event.Set("action", added ? "new" : "delete");
    return event;
  }

  NetlinkSocket socket_;
  uv_poll_t* poll_ = nullptr;
  bool open_ = false;  // between construction and close() (or a failure)
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

Napi::Value Watch(const Napi::CallbackInfo& info) {
  return State(info.Env()).watcherClass.New({info[0]});
}

}  // namespace

void InitEvents(Napi::Env env, Napi::Object exports) {
  State(env).watcherClass = Napi::Persistent(Watcher::Define(env));
  exports.Set("watch", Napi::Function::New<GuardedMethod<Watch>>(env, "watch"));
}

}  // namespace vippy
