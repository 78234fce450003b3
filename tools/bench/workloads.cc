#include "netstructer/tools/bench/workloads.h"

#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::bench {

using ::bench::Payload;

absl::Status CallFailed(absl::string_view what, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(what, " failed: ", status.message()));
}

absl::Status WrongLength(size_t got, size_t want) {
  return absl::DataLossError(
      absl::StrCat("a response of ", got, " bytes, expected ", want));
}

absl::Status CheckFirstEcho(const Payload& response, const std::string& want) {
  if (response.data() != want) {
    return absl::DataLossError(
        "the first response's bytes differ from the request's");
  }
  return absl::OkStatus();
}

namespace {

void SetCpu(Measurement* m, const CpuMark& before, const CpuMark& after) {
  m->client_cpu_s = after.client_s - before.client_s;
  m->server_cpu_s = after.server_s - before.server_s;
}

}  // namespace

absl::StatusOr<Measurement> RunPingPong(::bench::Echo::Stub& stub,
                                        const std::string& payload,
                                        double warmup_seconds, int warmup_calls,
                                        double seconds, int calls,
                                        const CpuProbe& probe) {
  Payload request;
  request.set_data(payload);
  {
    absl::StatusOr<Payload> first = stub.Call(request);
    if (!first.ok()) return CallFailed("the first call", first.status());
    if (absl::Status s = CheckFirstEcho(*first, payload); !s.ok()) return s;
  }
  auto one = [&]() -> absl::Status {
    absl::StatusOr<Payload> response = stub.Call(request);
    if (!response.ok()) return CallFailed("a call", response.status());
    if (response->data().size() != payload.size()) {
      return WrongLength(response->data().size(), payload.size());
    }
    return absl::OkStatus();
  };
  const Clock::time_point warm_end = After(Clock::now(), warmup_seconds);
  for (int i = 0; warmup_calls > 0 ? i < warmup_calls : Clock::now() < warm_end;
       ++i) {
    if (absl::Status s = one(); !s.ok()) return s;
  }

  Measurement m;
  m.latencies_us.reserve(calls > 0 ? static_cast<size_t>(calls) : 1u << 20);
  absl::StatusOr<CpuMark> before = probe.Mark();
  if (!before.ok()) return before.status();
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point end = After(t0, seconds);
  Clock::time_point t = t0;
  while (calls > 0 ? m.calls < static_cast<uint64_t>(calls) : t < end) {
    const Clock::time_point start = t;  // Back to back: the last completion.
    if (absl::Status s = one(); !s.ok()) return s;
    t = Clock::now();
    m.latencies_us.push_back(Micros(t - start));
    ++m.calls;
  }
  absl::StatusOr<CpuMark> after = probe.Mark();
  if (!after.ok()) return after.status();
  SetCpu(&m, *before, *after);
  m.seconds = Seconds(t - t0);
  return m;
}

namespace {

// The shared state of W2's closed loop. Owned jointly by the driver and
// every outstanding callback (shared_ptr), so it outlives the last one.
struct InFlight : std::enable_shared_from_this<InFlight> {
  InFlight(::bench::Echo::Stub* stub, std::string payload)
      : stub(stub), payload_size(payload.size()) {
    request.set_data(std::move(payload));
  }

  // Issues one call; its completion records it and, inside [.., t1) and
  // while nothing failed, issues the next.
  void Issue() {
    const Clock::time_point start = Clock::now();
    stub->CallAsync(
        request, {},
        [self = shared_from_this(), start](absl::StatusOr<Payload> response) {
          self->OnDone(start, std::move(response));
        });
  }

  void OnDone(Clock::time_point start, absl::StatusOr<Payload> response) {
    const Clock::time_point t = Clock::now();
    bool again = false;
    {
      MutexLock lock(&mu);
      if (!response.ok()) {
        if (failure.ok()) failure = CallFailed("a call", response.status());
      } else if (response->data().size() != payload_size) {
        if (failure.ok())
          failure = WrongLength(response->data().size(), payload_size);
      } else if (!verified) {
        verified = true;
        if (absl::Status s = CheckFirstEcho(*response, request.data());
            !s.ok()) {
          failure = s;
        }
      }
      if (failure.ok() && t >= t0 && t < t1) {
        latencies_us.push_back(Micros(t - start));
        ++calls;
      }
      again = failure.ok() && t < t1;
      if (!again && --outstanding == 0) done_cv.SignalAll();
    }
    if (again) Issue();
  }

  ::bench::Echo::Stub* const stub;
  const size_t payload_size;
  Payload request;  // Read-only once the calls start.
  Clock::time_point t0;
  Clock::time_point t1;

  Mutex mu;
  CondVar done_cv;
  int outstanding ABSL_GUARDED_BY(mu) = 0;
  bool verified ABSL_GUARDED_BY(mu) = false;
  uint64_t calls ABSL_GUARDED_BY(mu) = 0;
  std::vector<double> latencies_us ABSL_GUARDED_BY(mu);
  absl::Status failure ABSL_GUARDED_BY(mu);
};

}  // namespace

absl::StatusOr<Measurement> RunInFlight(::bench::Echo::Stub& stub,
                                        const std::string& payload,
                                        double warmup_seconds, double seconds,
                                        int in_flight, const CpuProbe& probe) {
  auto state = std::make_shared<InFlight>(&stub, payload);
  {
    MutexLock lock(&state->mu);
    state->latencies_us.reserve(1u << 20);
    state->outstanding = in_flight;
  }
  state->t0 = After(Clock::now(), warmup_seconds);
  state->t1 = After(state->t0, seconds);
  for (int i = 0; i < in_flight; ++i) state->Issue();

  std::this_thread::sleep_until(state->t0);
  absl::StatusOr<CpuMark> before = probe.Mark();
  std::this_thread::sleep_until(state->t1);
  absl::StatusOr<CpuMark> after = probe.Mark();

  Measurement m;
  {
    // Drain: calls still in flight complete and are not counted.
    MutexLock lock(&state->mu);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (state->outstanding > 0) {
      if (state->done_cv.WaitWithDeadline(&state->mu, give_up) &&
          state->outstanding > 0) {
        return absl::DeadlineExceededError(
            absl::StrCat(state->outstanding,
                         " calls still outstanding 30 s after the "
                         "window; the run is invalid"));
      }
    }
    if (!state->failure.ok()) return state->failure;
    m.calls = state->calls;
    m.latencies_us = std::move(state->latencies_us);
  }
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();
  SetCpu(&m, *before, *after);
  m.seconds = seconds;
  return m;
}

absl::StatusOr<Measurement> RunStreamOneWay(::bench::Echo::Stub& stub,
                                            const std::string& payload,
                                            double warmup_seconds,
                                            double seconds,
                                            const CpuProbe& probe) {
  Payload message;
  message.set_data(payload);
  auto run = [&](double duration) -> absl::StatusOr<Measurement> {
    auto stream = stub.Stream();
    Measurement m;
    absl::StatusOr<CpuMark> before = probe.Mark();
    if (!before.ok()) return before.status();
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point end = After(t0, duration);
    while (Clock::now() < end) {
      if (absl::Status s = stream->Write(message); !s.ok()) {
        return CallFailed("a stream write", s);
      }
      ++m.calls;
    }
    if (absl::Status s = stream->WritesDone(); !s.ok()) {
      return CallFailed("the half-close", s);
    }
    Payload reply;
    absl::StatusOr<bool> got = stream->Read(&reply);
    if (!got.ok()) return CallFailed("reading the totals", got.status());
    if (!*got || reply.data().size() != 16) {
      return absl::DataLossError("the stream ended without its 16-byte totals");
    }
    const Clock::time_point t1 = Clock::now();
    absl::StatusOr<CpuMark> after = probe.Mark();
    if (!after.ok()) return after.status();
    if (absl::Status s = stream->Finish(); !s.ok()) {
      return CallFailed("the stream", s);
    }
    uint64_t bytes = 0;
    uint64_t messages = 0;
    for (int i = 7; i >= 0; --i) {
      bytes = (bytes << 8) | static_cast<uint8_t>(reply.data()[i]);
      messages = (messages << 8) | static_cast<uint8_t>(reply.data()[8 + i]);
    }
    if (messages != m.calls || bytes != m.calls * payload.size()) {
      return absl::DataLossError(absl::StrCat(
          "sent ", m.calls, " messages (", m.calls * payload.size(),
          " bytes); the server counted ", messages, " (", bytes, " bytes)"));
    }
    SetCpu(&m, *before, *after);
    m.seconds = Seconds(t1 - t0);
    return m;
  };
  if (absl::StatusOr<Measurement> warm = run(warmup_seconds); !warm.ok()) {
    return warm.status();
  }
  return run(seconds);
}

}  // namespace netstructer::bench
