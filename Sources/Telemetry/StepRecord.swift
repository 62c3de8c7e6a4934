/// One line of `steps.jsonl`: one rank's part of one step (`docs/contracts.md`).
public struct StepRecord: Encodable, Sendable {
    /// What a training step adds.
    public struct Training: Sendable {
        public var schedule: String
        public var scheduleStep: Int
        public var wallS: Double
        /// `all` or `region`.
        public var gradientSync: String
        public var outerSync: Bool
        public var outerS: Double
        public var emulatedComputeS: Double?
        public var lanBytes: Int
        public var wanBytes: Int

        public init(
            schedule: String, scheduleStep: Int, wallS: Double, gradientSync: String, outerSync: Bool, outerS: Double,
            emulatedComputeS: Double?, lanBytes: Int, wanBytes: Int
        ) {
            self.schedule = schedule
            self.scheduleStep = scheduleStep
            self.wallS = wallS
            self.gradientSync = gradientSync
            self.outerSync = outerSync
            self.outerS = outerS
            self.emulatedComputeS = emulatedComputeS
            self.lanBytes = lanBytes
            self.wanBytes = wanBytes
        }
    }

    public var step: Int
    public var rank: Int
    public var region: String
    public var host: Int
    public var device: Int
    public var bytes: Int
    public var computeS: Double
    public var commS: Double
    public var hostS: Double
    public var regionS: Double
    public var wanS: Double
    public var syncS: Double
    public var checkS: Double
    public var waitS: Double
    public var wrong: Int
    /// The rank's minibatch loss (training); a loss that is not finite is written as null.
    public var loss: Double?
    public var plan: String
    public var training: Training?

    public init(
        step: Int, rank: Int, region: String, host: Int, device: Int, bytes: Int, computeS: Double, commS: Double,
        hostS: Double, regionS: Double, wanS: Double, syncS: Double, checkS: Double, waitS: Double, wrong: Int,
        loss: Double?, plan: String, training: Training? = nil
    ) {
        self.step = step
        self.rank = rank
        self.region = region
        self.host = host
        self.device = device
        self.bytes = bytes
        self.computeS = computeS
        self.commS = commS
        self.hostS = hostS
        self.regionS = regionS
        self.wanS = wanS
        self.syncS = syncS
        self.checkS = checkS
        self.waitS = waitS
        self.wrong = wrong
        self.loss = loss
        self.plan = plan
        self.training = training
    }

    enum CodingKeys: String, CodingKey {
        case step, rank, region, host, device, bytes, wrong, loss, plan, schedule
        case computeS = "compute_s"
        case commS = "comm_s"
        case hostS = "host_s"
        case regionS = "region_s"
        case wanS = "wan_s"
        case syncS = "sync_s"
        case checkS = "check_s"
        case waitS = "wait_s"
        case scheduleStep = "schedule_step"
        case wallS = "wall_s"
        case gradientSync = "gradient_sync"
        case outerSync = "outer_sync"
        case outerS = "outer_s"
        case emulatedComputeS = "emulated_compute_s"
        case lanBytes = "lan_bytes"
        case wanBytes = "wan_bytes"
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(step, forKey: .step)
        try fields.encode(rank, forKey: .rank)
        try fields.encode(region, forKey: .region)
        try fields.encode(host, forKey: .host)
        try fields.encode(device, forKey: .device)
        try fields.encode(bytes, forKey: .bytes)
        for (key, value) in [
            (CodingKeys.computeS, computeS), (.commS, commS), (.hostS, hostS), (.regionS, regionS), (.wanS, wanS),
            (.syncS, syncS), (.checkS, checkS), (.waitS, waitS),
        ] {
            try fields.encodeFinite(value, forKey: key)
        }
        try fields.encode(wrong, forKey: .wrong)
        try fields.encodeFinite(loss, forKey: .loss)
        try fields.encode(plan, forKey: .plan)
        guard let training else { return }
        try fields.encode(training.schedule, forKey: .schedule)
        try fields.encode(training.scheduleStep, forKey: .scheduleStep)
        try fields.encodeFinite(training.wallS, forKey: .wallS)
        try fields.encode(training.gradientSync, forKey: .gradientSync)
        try fields.encode(training.outerSync, forKey: .outerSync)
        try fields.encodeFinite(training.outerS, forKey: .outerS)
        try fields.encodeFinite(training.emulatedComputeS, forKey: .emulatedComputeS)
        try fields.encode(training.lanBytes, forKey: .lanBytes)
        try fields.encode(training.wanBytes, forKey: .wanBytes)
    }
}

extension KeyedEncodingContainer {
    /// `value`, or null where it is absent or not a finite number (JSON has no NaN).
    mutating func encodeFinite(_ value: Double?, forKey key: Key) throws {
        if let value, value.isFinite { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
