// TapsTraining: the run loop's checkpoints: writing and restoring the complete training state (docs/method.md "Checkpoints").
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

extension RunLoop {
    // MARK: - Checkpoints (docs/method.md "Checkpoints")


    /// Due by `--checkpoint-every` steps, by the time interval (default every 5 minutes), or on request (a key).
    func checkpointDue() -> Bool {
        guard config.path == nil else { return false }  // path runs are not resumable (their points are not checkpointed)
        if control.takeCheckpointRequest() { return true }
        if let every = config.checkpointEvery, every > 0, step > 0, step % every == 0 { return true }
        return Date().timeIntervalSince(lastCheckpoint) >= (config.checkpointMinutes ?? 5) * 60 && step > 0
    }

    /// Writes the complete training state (``Checkpoint``) into every view's folder. A failed write stops the run
    /// with a one-line error (the previous checkpoint stays: the write is atomic).
    func checkpoint(epochDone: Bool, stepInEpoch: Int, sums: [(loss: Double, correct: Int, seen: Int)]) {
        guard isWriter, let optimizer, failure == nil, config.path == nil else { return }
        for v in views { v.store.flush() }
        var tensors: [String: Tensor] = [:]
        for (m, member) in members.enumerated() {
            for p in member.network.parameters where checkpointed(p, of: member) { tensors["member\(m)/\(p.name)"] = p.value }
        }
        for (i, buffer) in optimizer.momentumBuffers.enumerated() { if let buffer { tensors["momentum/\(i)"] = buffer } }
        if let best {
            for (m, member) in members.enumerated() {
                for (p, v) in zip(member.network.parameters, best.state[m]) where checkpointed(p, of: member) {
                    tensors["best/member\(m)/\(p.name)"] = v
                }
            }
        }
        let state = CheckpointState(
            step: step, epoch: epoch, stepInEpoch: stepInEpoch, epochDone: epochDone, lambda: lambda,
            lambdaHistory: lambdaHistory, metricsOffsets: views.map(\.store.bytesWritten),
            epochLoss: sums.map(\.loss), epochCorrect: sums.map(\.correct), epochSeen: sums.map(\.seen),
            validation: validation, trainAccuracy: trainAccuracy, bestAccuracy: best?.accuracy, bestEpoch: best?.epoch,
            bestPerMember: best?.perMember, epochsCompleted: epochsCompleted, trainingSeconds: trainingSeconds,
            elapsed: Date().timeIntervalSince(started), sampler: epochSampler,
            dropout: dropoutStates,
            announcedRecalibration: announcedRecalibration.sorted(), setVotes: setVotes, flips: flips, lateFlips: lateFlips,
            candidates: candidateSets.map { $0.map { CandidateSet(set: $0.set, accuracy: $0.accuracy) } },
            budgetPinned: budgetPinned)
        do {
            for v in views { try Checkpoint(state: state, tensors: tensors).write(to: v.directory) }
            lastCheckpoint = Date()
            notice(.checkpoint, "checkpoint at step \(step) written", paths: views.map { $0.directory.appendingPathComponent(Checkpoint.fileName).path })
        } catch {
            status = .failed
            failure = "checkpoint failed: \(error); the last good checkpoint (if any) is kept"
        }
    }

    /// Whether a checkpoint stores `p`: everything but the frozen, shared base weights `w0` of gated layers (which
    /// the base file holds). The rule depends only on the mode, never on the phase (settled gates freeze deltas).
    private func checkpointed(_ p: Parameter, of member: RunMember) -> Bool {
        !member.gatedLayers.contains { $0.base.weight === p && !$0.trainsBase }
            || member.gatedLayers.contains { $0.base.weight === p && $0.base.weight.requiresGrad }
    }

    /// Puts the loop, the networks and the optimizer back into a checkpoint's state.
    /// - Throws: ``CheckpointError/mismatch(file:reason:)`` when a tensor is missing or has another shape.
    func restore(_ c: Checkpoint, optimizer: SGD) throws {
        let file = views[0].directory.appendingPathComponent(Checkpoint.fileName).path
        func take(_ key: String, shape: [Int]) throws -> Tensor {
            guard let t = c.tensors[key] else { throw CheckpointError.mismatch(file: file, reason: "no tensor '\(key)'") }
            guard t.shape == shape else {
                throw CheckpointError.mismatch(file: file, reason: "'\(key)' has shape \(t.shape), the run needs \(shape)")
            }
            return t
        }
        let s = c.state
        guard s.validation.count == members.count, s.epochLoss.count == views.count, s.dropout.count == members.count else {
            throw CheckpointError.mismatch(file: file, reason: "made for \(s.validation.count) tasks, the run has \(members.count)")
        }
        for (m, member) in members.enumerated() {
            for p in member.network.parameters where checkpointed(p, of: member) {
                p.value = try take("member\(m)/\(p.name)", shape: p.value.shape)
            }
            for (d, state) in zip(dropoutLayers(in: member.network), s.dropout[m]) { d.generatorState = state }
        }
        optimizer.momentumBuffers = try optimizer.parameters.enumerated().map { i, p in
            c.tensors["momentum/\(i)"] == nil ? nil : try take("momentum/\(i)", shape: p.value.shape)
        }
        if let accuracy = s.bestAccuracy, let bestEpoch = s.bestEpoch, let perMember = s.bestPerMember {
            let state = try members.enumerated().map { m, member in
                try member.network.parameters.map { p in
                    checkpointed(p, of: member) ? try take("best/member\(m)/\(p.name)", shape: p.value.shape) : p.value
                }
            }
            best = (accuracy, bestEpoch, perMember, state)
        }
        if let sampler = s.sampler { try adapter.restoreSampler(sampler) }
        step = s.step
        epoch = s.epoch
        lambda = s.lambda
        control.lambda = s.lambda
        lambdaHistory = s.lambdaHistory
        validation = s.validation
        trainAccuracy = s.trainAccuracy
        epochsCompleted = s.epochsCompleted
        trainingSeconds = s.trainingSeconds
        announcedRecalibration = Set(s.announcedRecalibration)
        if let v = s.setVotes, v.count == members.count { setVotes = v }
        if let f = s.flips, f.count == members.count { flips = f }
        lateFlips = s.lateFlips ?? 0
        candidateSets = (s.candidates ?? []).map { $0.map { ($0.set, $0.accuracy) } }
        // The pin lasts until the settle chose its set (which may take pinned layers back): a checkpoint of the
        // settle (from a taps that still recorded the pin there) must not turn those layers off again.
        budgetPinned = s.epoch < settleStart ? s.budgetPinned.flatMap { $0.count == members.count ? $0 : nil } ?? [] : []
        for m in members.indices { pinForBudget(m) }
        previousActive = members.map { $0.gatedLayers.map(\.isActive) }
        started = Date().addingTimeInterval(-s.elapsed)
        resumedSums = (0..<views.count).map { (s.epochLoss[$0], s.epochCorrect[$0], s.epochSeen[$0]) }
    }
}
