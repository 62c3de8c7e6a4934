import Foundation

extension ControlMessage {
    /// What a training step synchronises, as the coordinator schedules it.
    public struct TrainStep: Codable, Equatable, Sendable {
        /// Index into the job's schedules.
        public var schedule: Int
        /// Step within the schedule.
        public var index: Int
        /// Where the gradients are all-reduced this step: `all` ranks, or each `region` alone.
        public var gradients: SyncScope
        /// After the inner update: average the pseudo-gradients across every rank and apply
        /// the outer optimiser.
        public var outer: Bool
        /// Gradient buckets as [offset, count] in float32 elements, in the order they are
        /// all-reduced (backward order: each leaves as soon as the backward pass has filled it).
        public var buckets: [[Int]]
        /// The file name under which rank 0 sends the parameters after this step (the
        /// schedule's last) to the coordinator, in `model_part` messages; the coordinator writes
        /// it in its run directory.
        public var save: String?
        /// Whether every rank reports a CRC32C of its parameters after the step (elastic jobs:
        /// the coordinator checks that the replicas agree).
        public var checksum: Bool?
        /// Outer steps after a worker started again from θ_global mid-interval: each rank's
        /// weight, the share of the interval's inner steps its pseudo-gradient covers (absent:
        /// every rank 1). Pseudo-gradients are averaged by these weights.
        public var outerWeights: [Double]?
        /// Before the step: in each transfer, rank `from` sends its replica's whole state to the
        /// ranks `to`, which joined the job and take it instead of their own (see `Replica.save`).
        /// A rank is in at most one transfer.
        public var state: [StateTransfer]?
        public init(schedule: Int, index: Int, gradients: SyncScope, outer: Bool, buckets: [[Int]], save: String? = nil)
        {
            self.schedule = schedule
            self.index = index
            self.gradients = gradients
            self.outer = outer
            self.buckets = buckets
            self.save = save
        }
    }

    /// A replica's state, from a rank that has it to ranks that joined the running job, over the
    /// data plane.
    public struct StateTransfer: Codable, Equatable, Sendable {
        public var from: Int
        public var to: [Int]
        /// Schedules that synchronise regions every H steps, where `from` is of another region
        /// (none of the joiners' own is left): the joiners start their inner steps again from
        /// the last global parameters, which every rank holds alike.
        public var global: Bool?
        public init(from: Int, to: [Int], global: Bool? = nil) {
            self.from = from
            self.to = to
            self.global = global
        }
    }

    /// One device's part of a finished step.
    public struct DeviceStep: Codable, Equatable, Sendable {
        public var rank: Int
        public var computeS: Double
        /// Time in the all-reduce, and in each level of it (host: shared memory; region; wan).
        public var commS: Double
        public var hostS: Double
        public var regionS: Double
        public var wanS: Double
        /// Waiting for the other ranks before the timed part (the barrier that starts it).
        public var syncS: Double
        /// Writing the check pattern and checking the result.
        public var checkS: Double
        public var wrong: Int
        /// Training steps: the device's minibatch loss (before its update).
        public var loss: Double?
        /// Training steps: blocked after the backward pass until the last bucket was reduced.
        public var waitS: Double?
        /// Training steps: the outer synchronisation (pseudo-gradient all-reduce and update).
        public var outerS: Double?
        /// Training steps: the compute time the device profile gives (synthetic compute).
        public var emulatedS: Double?
        /// Training steps: bytes this rank sent inside its region and across regions.
        public var lanBytes: Int?
        public var wanBytes: Int?
        /// Training steps that end a schedule, and every step of an elastic job: CRC32C of the
        /// device's parameters, so the coordinator can check that the replicas agree.
        public var parametersChecksum: UInt32?
        /// When the timed all-reduce began (after the barrier) and ended, in cluster time
        /// (nanoseconds of the coordinator's monotonic clock, as `ClockSync` converts): the
        /// coordinator takes the earliest start to the latest end, the step's makespan.
        public var startNs: Int?
        public var endNs: Int?
        public init(
            rank: Int, computeS: Double, commS: Double, hostS: Double, regionS: Double, wanS: Double,
            syncS: Double, checkS: Double, wrong: Int
        ) {
            self.rank = rank
            self.computeS = computeS
            self.commS = commS
            self.hostS = hostS
            self.regionS = regionS
            self.wanS = wanS
            self.syncS = syncS
            self.checkS = checkS
            self.wrong = wrong
        }
    }

    /// Worker → coordinator: a step is done.
    public struct StepDone: Codable, Equatable, Sendable {
        public var step: Int
        public var plan: String
        public var devices: [DeviceStep]
        public var traffic: Traffic
        /// The membership epoch the step ran in, as the step gave it (absent: 1). A result of an
        /// earlier epoch is of an attempt the coordinator has given up.
        public var epoch: Int?
        public init(step: Int, plan: String, devices: [DeviceStep], traffic: Traffic) {
            self.step = step
            self.plan = plan
            self.devices = devices
            self.traffic = traffic
        }
    }

    /// A worker's data-plane bytes so far (headers included), by peer region.
    public struct Traffic: Codable, Equatable, Sendable {
        /// To / from workers of the same region.
        public var lanTxBytes: Int
        public var lanRxBytes: Int
        /// To / from each other region, by region name.
        public var wanTxBytes: [String: Int]
        public var wanRxBytes: [String: Int]
        public var rejectedMessages: Int
        /// How late this worker's ranks, while they waited, took messages from each other
        /// region after those arrived (the time a gateway's arrival frame gives), by region name.
        public var arrivals: [String: Arrivals]?
        public init(
            lanTxBytes: Int = 0, lanRxBytes: Int = 0, wanTxBytes: [String: Int] = [:], wanRxBytes: [String: Int] = [:],
            rejectedMessages: Int = 0
        ) {
            self.lanTxBytes = lanTxBytes
            self.lanRxBytes = lanRxBytes
            self.wanTxBytes = wanTxBytes
            self.wanRxBytes = wanRxBytes
            self.rejectedMessages = rejectedMessages
        }
    }

    /// Messages that came through a gateway with their arrival time, and how late after it the
    /// rank that waited for each took it (microseconds; 0 when it was waiting in time).
    public struct Arrivals: Codable, Equatable, Sendable {
        public var messages: Int
        public var lateP50Us: Double
        public var lateP99Us: Double
        public var lateMaxUs: Double
        public init(messages: Int, lateP50Us: Double, lateP99Us: Double, lateMaxUs: Double) {
            self.messages = messages
            self.lateP50Us = lateP50Us
            self.lateP99Us = lateP99Us
            self.lateMaxUs = lateMaxUs
        }
    }
}

extension ControlMessage {
    /// Worker → coordinator: a part of a file for the run directory (rank 0's parameters at the
    /// end of a schedule), so that only the coordinator writes the run directory, wherever the
    /// workers run. Parts come in order, each at most `maximumBytes`.
    public struct ModelPart: Codable, Equatable, Sendable {
        /// The file's name in the run directory, as the step's `save` named it.
        public var file: String
        /// Where this part starts in the file, bytes.
        public var offset: Int
        /// The whole file's length, bytes.
        public var totalBytes: Int
        /// CRC32C of the whole file.
        public var crc32c: UInt32
        /// This part's bytes, base64.
        public var data: String

        /// The most bytes one part carries (its base64 fits a control body with room to spare).
        public static let maximumBytes = 512 << 10

        public init(file: String, offset: Int, totalBytes: Int, crc32c: UInt32, data: String) {
            self.file = file
            self.offset = offset
            self.totalBytes = totalBytes
            self.crc32c = crc32c
            self.data = data
        }

        /// A file cut into parts.
        public static func parts(of bytes: [UInt8], file: String) -> [ModelPart] {
            let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
            return stride(from: 0, to: max(bytes.count, 1), by: maximumBytes).map { offset in
                let end = min(offset + maximumBytes, bytes.count)
                return ModelPart(
                    file: file, offset: offset, totalBytes: bytes.count, crc32c: crc,
                    data: Data(bytes[offset..<end]).base64EncodedString())
            }
        }
    }
}
