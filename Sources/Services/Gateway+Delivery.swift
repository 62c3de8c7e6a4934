import CStraitsShims
import Collectives
import Config
import Emulation
import Foundation
import Logging
import NUMA
import StraitsWire
import Transport
import ZeroMQ

extension Gateway {
    /// The sockets that carry deliveries on to their ranks, one per rank, shared by the delivery
    /// threads: one thread sends at a time (a ZeroMQ socket may change threads across a lock),
    /// and batches go out in the order they were taken from the links.
    final class Outboxes: @unchecked Sendable {
        // Unchecked Sendable: `sockets` is only touched with `lock` held.
        let lock = NSLock()
        var sockets: [Int: SocketBox] = [:]
    }

    /// Sends each message on when the link model says it arrives.
    ///
    /// Each delivery thread runs this loop (several: each pinned to its own CPU); whichever gets
    /// to a delivery first takes it from the link under the shared lock and sends it. On a
    /// virtual machine a CPU now and then waits for its hypervisor for 0.1–3 ms, running or
    /// halted (a real-time thread spinning on each of the development machine's 2 CPUs lost the
    /// CPU for over 100 µs 0.3–2.3% of the time, but both CPUs at once 0–0.02%), so one thread
    /// is late at the 99th percentile by hundreds of microseconds, and two on two CPUs seldom.
    /// A second thread costs the ranks the cores it takes: it wakes for every offer and spins
    /// before every delivery too.
    ///
    /// A thread sleeps until the next chunk start (whose time the model keeps exactly, so a
    /// late wake-up there costs nothing) or until shortly before the next delivery, then spins
    /// for the rest. How early it wakes is what this machine's timer needs: the 99th percentile
    /// of its recent wake-up overshoots plus 10 µs (20 µs at least, 300 µs at most; the 90th
    /// where several threads race), so a precise host spins a few tens of microseconds and a
    /// virtual machine a little more. As it stops it logs its deliveries, wake-ups and CPU time.
    static func deliveryLoop(
        state: State, context: ZMQContext, outboxes: Outboxes, cpu: Int?, racers: Int, label: String
    ) {
        let log = Logger(label: label)
        _ = straits_set_timer_slack(1000)
        _ = straits_set_thread_name("gw-delivery")
        if let cpu { try? ThreadAffinity.pin(to: [cpu]) }
        // Wake on time even when every core is busy with ranks: real-time priority where the
        // process may have it (it sleeps between deliveries and spins only briefly).
        let realtime = straits_set_realtime(30)
        if realtime != 0 {
            log.warning(
                "delivery thread runs at normal priority (SCHED_FIFO: \(String(cString: strerror(realtime)))); deliveries may be late when the cores are busy"
            )
        }
        let clock = SystemClock.shared
        var overshoot = OvershootWindow()
        if racers > 1 { overshoot.percentile = 90 }
        var wakes = 0
        var spun: Int64 = 0
        var delivered = 0
        while true {
            state.condition.lock()
            if state.stopping {
                state.condition.unlock()
                var spec = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
                let cpu = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
                log.info(
                    "\(delivered) deliveries, \(wakes) wake-ups, \(fixed(cpu, 3)) s of CPU, of it \(fixed(Double(spun) / 1e9, 3)) s spinning; waking \(overshoot.early / 1000) µs early"
                )
                return
            }
            let now = clock.now()
            let wake = state.scheduler.onWake(now: now, early: overshoot.early)
            if wake.freed { state.condition.broadcast() }
            state.keepCPUsAwake(wake.keepCPUsAwake)
            let due = wake.due.compactMap { due in state.held.removeValue(forKey: due.message).map { (due, $0) } }
            switch wake.next {
            case .sleep(let until, let final)?:
                // Idle: wait for an offer (at most 0.2 s, to notice stopping).
                let seconds = until.map { min(Double($0 - now) / 1e9, 0.2) } ?? 0.2
                _ = state.condition.wait(until: Date(timeIntervalSinceNow: seconds))
                let woke = clock.now()
                wakes += 1
                state.condition.unlock()
                if final, let until, woke >= until { overshoot.record(woke - until) }
                continue
            case .spin(let until)?:
                // Within `early` of a delivery: spin on the clock, lock released.
                state.condition.unlock()
                var time = clock.now()
                while time < until { time = clock.now() }
                spun += time - now
                continue
            case nil:
                break
            }
            let endpoints = due.map { state.endpoints[$0.1.destination] }
            // The send lock is taken before the shared one is let go, so that batches go out in
            // the order they were taken; it is let go before the shared one is taken again.
            outboxes.lock.lock()
            state.condition.unlock()
            var sent: [(destination: Int, late: Int64)] = []
            for ((due, held), endpoint) in zip(due, endpoints) {
                let sentAt = clock.now()
                do {
                    try send(held, arrivesAt: due.arrivesAt, endpoint: endpoint, outboxes: outboxes, context: context)
                } catch {
                    log.error("delivery to rank \(held.destination) failed: \(error)")
                }
                sent.append((due.destination, sentAt - due.dueAt))
            }
            delivered += sent.count
            outboxes.lock.unlock()
            state.condition.lock()
            for (destination, late) in sent { state.lateness[destination]!.record(nanoseconds: late) }
            state.condition.unlock()
        }
    }

    /// Sends one message on to its rank, its route frame replaced by an arrival frame; `outboxes.lock` held.
    private static func send(_ held: Held, arrivesAt: Int64, endpoint: String?, outboxes: Outboxes, context: ZMQContext)
        throws
    {
        guard var message = held.message.take() else { return }
        message.removeFirstFrame()
        message.prepend(GatewayRoute.arrivalFrame(destination: held.destination, arrivesAt: arrivesAt))
        if outboxes.sockets[held.destination] == nil {
            guard let endpoint else {
                throw RuntimeError(.protocolViolation, "no endpoint for rank \(held.destination)")
            }
            var push = try ZMQSocket(.push, context: context, linger: .seconds(2))
            try LinkSecurity.client(&push)
            try push.setSendHighWaterMark(0)
            try push.connect(endpoint)
            outboxes.sockets[held.destination] = SocketBox(push)
        }
        let box = outboxes.sockets[held.destination]!
        if let blocked = try box.socket.trySend(message) {
            try box.socket.blockingSend(blocked, timeout: .seconds(30))
        }
    }
}
