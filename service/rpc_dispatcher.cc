#include "netstructer/service/rpc_dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/service/reactor_call.h"
#include "netstructer/transport/sync_point.h"

namespace netstructer {

namespace {
// A client's timeout is capped (a year) so deadline arithmetic cannot
// overflow.
constexpr uint64_t kMaxTimeoutMicros = uint64_t{365} * 24 * 3600 * 1000000;
}  // namespace

struct RpcDispatcher::Running {
  Mutex mu;
  // Owned here until the call ends; the stream's event hook owns this.
  std::shared_ptr<internal::ServerCall> call ABSL_GUARDED_BY(mu);
  Target target{};
  const rpc::RpcConnection* connection = nullptr;  // A key, never used.
  bool started ABSL_GUARDED_BY(mu) = false;
  // The session's loop, which runs the deadline timer; alive while `call`
  // is (its context holds the session, which holds the loop).
  transport::EventLoop* loop = nullptr;
  transport::EventLoop::TimerId timer ABSL_GUARDED_BY(mu) = 0;
};

namespace {
int HandlerThreads(int configured) {
  if (configured >= 0) return configured;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(4, 2 * cores);
}
}  // namespace

RpcDispatcher::RpcDispatcher(RpcServerOptions options)
    : options_(std::move(options)),
      pool_(HandlerThreads(options_.handler_threads) > 0
                ? std::make_shared<Pool>()
                : nullptr) {
  // The threads start on demand (Enqueue): a server whose services all
  // run inline, or that serves only Bridge sessions, starts none.
  if (pool_ != nullptr) pool_->max_threads = HandlerThreads(options_.handler_threads);
}

RpcDispatcher::~RpcDispatcher() {
  if (pool_ == nullptr) return;
  MutexLock lock(&pool_->mu);
  pool_->stopping = true;  // Threads finish what is queued, then exit.
  pool_->cv.SignalAll();
}

absl::Status RpcDispatcher::Register(Service* service) {
  MutexLock lock(&mu_);
  for (const Service* s : services_) {
    if (s->name() == service->name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("a service ", service->name(), " is already registered"));
    }
  }
  services_.push_back(service);
  for (const Service::Method& m : service->methods()) {
    methods_[m.path] = Target{service, &m, service->handlers_never_block()};
  }
  return absl::OkStatus();
}

void RpcDispatcher::Retain(std::shared_ptr<Service> service) {
  if (service == nullptr) return;
  MutexLock lock(&mu_);
  retained_.push_back(std::move(service));
}

std::vector<Service*> RpcDispatcher::services() const {
  MutexLock lock(&mu_);
  return services_;
}

std::shared_ptr<rpc::RpcConnection> RpcDispatcher::NewConnection() {
  auto connection = std::make_shared<rpc::RpcConnection>(
      rpc::RpcConnection::Role::kServer, shared_from_this(),
      options_.max_concurrent_streams);
  MutexLock lock(&mu_);
  connections_.erase(
      std::remove_if(connections_.begin(), connections_.end(),
                     [](const auto& w) { return w.expired(); }),
      connections_.end());
  connections_.push_back(connection);
  if (draining_) connection->StopAccepting("the server is shutting down");
  return connection;
}

size_t RpcDispatcher::active_calls() const {
  MutexLock lock(&mu_);
  return active_calls_;
}

absl::Status RpcDispatcher::OnNewCall(
    rpc::RpcConnection* connection,
    const std::shared_ptr<rpc::CallStream>& stream, rpc::CallHeaders headers) {
  Target target{};
  {
    MutexLock lock(&mu_);
    if (draining_) return absl::UnavailableError("the server is shutting down");
    auto it = methods_.find(headers.method());
    if (it == methods_.end()) {
      return absl::UnimplementedError(
          absl::StrCat("unknown method ", headers.method()));
    }
    target = it->second;
    // Handlers still running count, even for calls that ended on the wire
    // (cancelled, expired): a client cancelling in a loop cannot pile up
    // threads behind handlers that ignore cancellation.
    size_t& running = running_per_connection_[connection];
    if (running >= options_.max_concurrent_streams) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many calls still running on this connection "
          "(max_concurrent_streams ", options_.max_concurrent_streams, ")"));
    }
    ++running;
    ++active_calls_;  // Under the lock that checked draining_ (Drain).
  }
  // Until the call is handed to its handler, an error gives back its place.
  auto refuse = [&](absl::Status status) {
    CallEnded(connection);
    return status;
  };
  absl::StatusOr<Metadata> metadata = rpc::FromWire(headers.metadata());
  if (!metadata.ok()) return refuse(metadata.status());
  absl::Time deadline = absl::InfiniteFuture();
  if (headers.timeout_micros() > 0) {
    deadline = absl::Now() + absl::Microseconds(static_cast<int64_t>(
                                 std::min(headers.timeout_micros(), kMaxTimeoutMicros)));
  }
  std::shared_ptr<Bridge> session = connection->bridge()->shared_from_this();
  auto context = std::make_unique<ServerContext>(
      headers.method(), *std::move(metadata), deadline, std::move(session));
  ServerContext* ctx = context.get();
  auto call = std::make_shared<internal::ServerCall>(connection, stream,
                                                     std::move(context));
  for (const auto& interceptor : options_.interceptors) {
    if (absl::Status s = interceptor->OnCall(ctx); !s.ok()) {
      s = ctx->FinalStatus(s);
      for (const auto& i : options_.interceptors) i->OnFinish(ctx, s);
      return refuse(s);
    }
  }
  auto running = std::make_shared<Running>();
  running->target = target;
  running->connection = connection;
  running->loop = connection->bridge()->event_loop();
  {
    MutexLock lock(&running->mu);
    running->call = call;
    if (deadline != absl::InfiniteFuture()) {
      std::weak_ptr<Running> weak = running;
      running->timer = running->loop->AddRealTimeTimer(deadline, [weak] {
        std::shared_ptr<Running> r = weak.lock();
        if (r == nullptr) return;
        std::shared_ptr<internal::ServerCall> c;
        {
          MutexLock lock(&r->mu);
          c = r->call;
        }
        if (c != nullptr) {
          c->Cancel(absl::DeadlineExceededError("the call's deadline passed"));
          c->stream()->FireEvent();  // Starts a call still waiting for input.
        }
      });
    }
  }
  const internal::MethodKind kind = target.method->kind;
  if (kind == internal::MethodKind::kClientStreaming ||
      kind == internal::MethodKind::kBidiStreaming) {
    {
      MutexLock lock(&running->mu);
      running->started = true;
    }
    StartStreaming(running);
    return absl::OkStatus();
  }
  // (Test hook, arg: the ServerCall: where its deadline timer may fire.)
  transport::SyncPoint("RpcDispatcher::OnNewCall:before_start_hook",
                       call.get());
  // Unary and server streaming start once the request is complete.
  rpc::CallStream* s = stream.get();  // The hook lives in *s.
  stream->set_on_event([this, running, s, kind] {
    {
      MutexLock lock(&running->mu);
      if (running->started || running->call == nullptr) return;
      if (!s->has_messages() && !s->input_ended() && !s->finished()) return;
      running->started = true;
    }
    if (kind == internal::MethodKind::kServerStreaming) {
      StartStreaming(running);
    } else if (pool_ != nullptr && !running->target.unary_inline) {
      Enqueue([self = shared_from_this(), running] { self->Run(running, false); });
    } else {
      Run(running, true);
    }
  });
  // The stream was open before the hook was set: a deadline timer or the
  // connection's end may have finished it meanwhile, and fired nothing.
  if (stream->finished()) stream->FireEvent();
  return absl::OkStatus();
}

void RpcDispatcher::Run(const std::shared_ptr<Running>& running,
                        bool on_io_thread,
                        const std::function<absl::Status()>* streaming) {
  std::shared_ptr<internal::ServerCall> call;
  {
    MutexLock lock(&running->mu);
    call = running->call;
  }
  if (call == nullptr) return;
  // A unary call that ended while it waited in the pool's queue (its
  // deadline, the client's cancel, the server's drain) never runs its
  // handler: it would spend a pool thread for nothing, and the Service may
  // already be gone once the Server has drained.
  const bool ended_while_queued =
      !on_io_thread && streaming == nullptr && call->stream()->finished();
  const absl::Status status =
      ended_while_queued
          ? call->stream()->final_status()
          : call->context()->FinalStatus(
                streaming != nullptr
                    ? (*streaming)()
                    : running->target.method->handler.Run(
                          running->target.service, call.get()));
  End(running, call, status, on_io_thread, nullptr);
}

void RpcDispatcher::End(const std::shared_ptr<Running>& running,
                        std::shared_ptr<internal::ServerCall> call,
                        absl::Status status, bool on_io_thread,
                        std::function<void(absl::Status)> then) {
  auto finish = [this, running, call, status, on_io_thread,
                 then = std::move(then)] {
    call->Finish(status);
    const absl::Status final_status =
        call->context()->IsCancelled() ? call->stream()->final_status() : status;
    for (const auto& i : options_.interceptors) {
      i->OnFinish(call->context(), final_status);
    }
    transport::EventLoop::TimerId timer = 0;
    {
      MutexLock lock(&running->mu);
      timer = running->timer;
      running->call.reset();  // Breaks the stream -> hook -> call cycle.
    }
    if (timer != 0) running->loop->CancelTimer(timer);
    CallEnded(running->connection);
    // A handler on its own thread may have read the session itself (a
    // stream handler waiting in Read): the loop takes over at once, now
    // that the call no longer counts against the session's limit. A
    // handler on the reading thread needs nothing: that thread reads on.
    if (!on_io_thread) call->connection()->CallDone();
    if (then) then(final_status);
  };
  if (call->response_size() + 1024 > rpc::kStreamWindowBytes) {
    // A response beyond the stream's initial window waits for credit: on
    // the reading thread, credit only it could receive; on a pool thread,
    // a client that withholds credit would hold a pool thread (and with
    // enough calls, all of them). A thread of its own, either way.
    std::thread(finish).detach();
    return;
  }
  finish();
}

void RpcDispatcher::StartStreaming(std::shared_ptr<Running> running) {
  // The factory and the reactor's callbacks run on the session's loop; the
  // reading thread may be another call's handler, waiting in Read.
  if (!running->loop->InLoopThread()) {
    running->loop->Post([self = shared_from_this(), running] {
      self->StartStreaming(running);
    });
    return;
  }
  std::shared_ptr<internal::ServerCall> call;
  {
    MutexLock lock(&running->mu);
    call = running->call;
  }
  if (call == nullptr) return;
  auto engine = std::make_shared<internal::ReactorCall>(
      call,
      [self = shared_from_this(), running](
          std::shared_ptr<internal::ServerCall> call, absl::Status status,
          std::function<void(absl::Status)> then) {
        self->End(running, std::move(call), std::move(status),
                  /*on_io_thread=*/true, std::move(then));
      });
  absl::StatusOr<internal::StreamStart> start;
  {
    internal::ReactorCall::ScopedBinding binding(engine.get());
    start = running->target.method->handler.Start(running->target.service,
                                                  call.get());
  }
  if (!start.ok()) {  // A server-streaming request that does not parse.
    End(running, call, call->context()->FinalStatus(start.status()),
        /*on_io_thread=*/true, nullptr);
    return;
  }
  if (start->reactor != nullptr) {
    engine->Start(std::move(start->reactor), std::move(start->keep));
    call->stream()->set_on_event([engine] { engine->OnEvent(); });
    engine->OnEvent();  // What came before the hook was set.
    return;
  }
  // The blocking handler, on a thread of its own: bounded for the server.
  int refused_at = -1;
  {
    MutexLock lock(&mu_);
    if (options_.max_streaming_handlers > 0 &&
        streaming_handlers_ >= options_.max_streaming_handlers) {
      refused_at = streaming_handlers_;
    } else {
      ++streaming_handlers_;
    }
  }
  if (refused_at >= 0) {
    End(running, call,
        absl::ResourceExhaustedError(absl::StrCat(
            "the server runs ", refused_at,
            " streaming handlers, its limit (max_streaming_handlers): "
            "retry later")),
        /*on_io_thread=*/true, nullptr);
    return;
  }
  std::thread([self = shared_from_this(), running = std::move(running),
               handler = std::move(start->blocking)] {
    self->Run(running, false, &handler);
    self->StreamingHandlerEnded();
  }).detach();
}

void RpcDispatcher::StreamingHandlerEnded() {
  MutexLock lock(&mu_);
  --streaming_handlers_;
}

void RpcDispatcher::Enqueue(std::function<void()> task) {
  MutexLock lock(&pool_->mu);
  pool_->queue.push_back(std::move(task));
  // One more thread while the queue holds more tasks than threads wait
  // (a woken thread counts as waiting until it takes its task).
  if (static_cast<size_t>(pool_->idle_threads) < pool_->queue.size() &&
      pool_->threads < pool_->max_threads) {
    ++pool_->threads;
    std::thread([pool = pool_] { PoolLoop(pool); }).detach();
  }
  pool_->cv.Signal();
}

void RpcDispatcher::PoolLoop(const std::shared_ptr<Pool>& pool) {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(&pool->mu);
      ++pool->idle_threads;
      while (pool->queue.empty() && !pool->stopping) pool->cv.Wait(&pool->mu);
      --pool->idle_threads;
      if (pool->queue.empty()) return;
      task = std::move(pool->queue.front());
      pool->queue.pop_front();
    }
    task();
  }
}

void RpcDispatcher::CallEnded(const rpc::RpcConnection* connection) {
  MutexLock lock(&mu_);
  --active_calls_;
  auto it = running_per_connection_.find(connection);
  if (it != running_per_connection_.end() && --it->second == 0) {
    running_per_connection_.erase(it);
  }
  cv_.SignalAll();
}

void RpcDispatcher::Drain(absl::Time deadline, absl::Time grace) {
  std::vector<std::shared_ptr<rpc::RpcConnection>> connections;
  {
    MutexLock lock(&mu_);
    draining_ = true;
    for (const auto& weak : connections_) {
      if (auto c = weak.lock()) connections.push_back(std::move(c));
    }
  }
  for (const auto& c : connections) c->StopAccepting("the server is shutting down");
  {
    MutexLock lock(&mu_);
    while (active_calls_ > 0) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) break;
    }
    if (active_calls_ == 0) return;
  }
  const absl::Status cancelled =
      absl::CancelledError("the server is shutting down");
  for (const auto& c : connections) {
    for (const auto& stream : c->Streams()) {
      c->Cancel(stream.get(), cancelled);
      stream->FireEvent();
    }
  }
  MutexLock lock(&mu_);
  while (active_calls_ > 0) {
    if (cv_.WaitWithDeadline(&mu_, grace)) break;
  }
}

}  // namespace netstructer
