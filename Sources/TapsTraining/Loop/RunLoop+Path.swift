// TapsTraining: the run loop's path mode, the trade-off in one run (docs/method.md "The trade-off in one run").
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

extension RunLoop {
    // MARK: - The trade-off in one run (`--path`; docs/method.md "The trade-off in one run")


    /// The learning rate of a path run's next step: `--lr` during warm-up and the search; while a set trains, a
    /// cosine decay from `--lr` to 0 over its steps, so each point is evaluated converged, like the end of a sweep run.
    var pathLearningRate: Float {
        let peak = Float(config.learningRate)
        guard pathTraining != nil else { return peak }
        let done = Float(pathSettleTotal - pathSettleLeft) / Float(max(1, pathSettleTotal))
        return 0.5 * peak * (1 + cos(Float.pi * done))
    }

    /// The gated member a path follows (a path is a single-task run).
    private var pathMember: Int? { members.firstIndex { $0.task != nil } }

    /// Member `m`'s active set as `1`/`0` per gated layer (the key of set votes, candidates and path points).
    func activeKey(_ m: Int) -> String { String(members[m].gatedLayers.map { $0.isActive ? "1" : "0" }) }

    /// At the end of warm-up of a path run: keeps the state every set will train from (where a sweep run with the
    /// same seed and warm-up is then too, but for its learning rate, which follows the cosine of its whole run).
    func keepPathStart() {
        pathStart = (members.map { $0.network.parameters.map(\.value) }, optimizer?.momentumBuffers ?? [], dropoutStates)
    }

    /// The batch of the next step of a path set in training, and the epoch it belongs to: step `k` of every set is
    /// step `k` of the epochs after warm-up (epoch `--warmup-epochs + 1 + k / stepsPerEpoch`), so every set trains on
    /// the same batches in the same order, whatever the search did, as the runs of a sweep do after their warm-up.
    /// nil while warming up or searching (the loop's own batch).
    func pathReplayBatch() -> (batch: [(member: Int, indices: [Int])], epoch: Int)? {
        guard pathTraining != nil, adapter.stepsPerEpoch > 0 else { return nil }
        let k = max(0, pathSettleTotal - pathSettleLeft)
        let (epochsDone, i) = k.quotientAndRemainder(dividingBy: adapter.stepsPerEpoch)
        let e = config.warmupEpochs + 1 + epochsDone
        if pathReplayEpochs[e] == nil { pathReplayEpochs[e] = adapter.batches(epoch: e) }   // kept for every set
        guard let batches = pathReplayEpochs[e], i < batches.count else { return nil }
        return (batches[i], e)
    }

    /// After a step of a path run past warm-up (docs/method.md "The trade-off in one run").
    ///
    /// Searching: lambda rises on schedule, and an active set not found yet that holds for a sixteenth of an epoch
    /// (at least 2 steps) is kept in ``pathSets``. The search ends when every gate is off, or at the end of
    /// `--epochs`; then each set found trains in turn from the end of warm-up. Training: counts the set's steps down
    /// and records it as a point when they are done. Returns true when the path is complete (every set trained and
    /// recorded) or failed (``failure`` is set).
    func advancePath() -> Bool {
        guard let path = config.path, let m = pathMember else { return false }
        let (raiseEvery, _) = path.resolved(stepsPerEpoch: adapter.stepsPerEpoch)
        if let current = pathTraining {
            pathSettleLeft -= 1
            guard pathSettleLeft <= 0 else { return false }
            recordPathPoint(m, lambda: pathSets[current].lambda)
            return failure != nil || trainPathSet(current + 1)
        }
        let set = activeKey(m)
        if pathSeenSets.contains(set) {
            pathCandidate = nil
        } else {
            pathCandidateSteps = set == pathCandidate ? pathCandidateSteps + 1 : 1
            pathCandidate = set
            if pathCandidateSteps >= max(2, raiseEvery / 4) {
                pathCandidate = nil
                pathSeenSets.insert(set)
                let names = members[m].gatedLayers.filter(\.isActive).map(\.name)
                // A set whose deltas cost within 10% of a kept set's is the same point on the curve's storage axis:
                // training it would cost a set's steps for little that is new (fashion: conv_layers.0, 288 weights,
                // goes off at lambda 0.01 on seed 2, and 100.59% would be trained beside 100.66%). Relative, so the
                // sparse end keeps its resolution and a network of many small layers keeps few near-duplicates.
                let cost = deltaCost(members[m])
                if set.contains("1"), let near = pathSets.firstIndex(where: {
                    Self.sameStorage(deltaCost(members[m], active: $0.key.map { $0 == "1" }), cost)
                }) {
                    notice(.info, String(format: "path search: at step %d, lambda %@, %d/%d active (deltas %.2f%% of the backbone) "
                        + "costs within 10%% of set %d: not kept", step, ProgressFormatter.fmt(lambda), names.count,
                        members[m].gatedLayers.count, 100 * cost, near))
                } else {
                    pathSets.append((set, lambda, step))
                    notice(.info, String(format: "path search: set %d at step %d, lambda %@: %d/%d active (deltas %.2f%% of the backbone)%@",
                                         pathSets.count - 1, step, ProgressFormatter.fmt(lambda), names.count,
                                         members[m].gatedLayers.count, 100 * cost,
                                         (names.isEmpty ? "" : ": " + names.joined(separator: ", ")) as NSString))
                }
                if !set.contains("1") { return planPathTraining(ending: "every gate is off") }
                // One layer left (kept or not): the next set is every gate off, which needs no search (it is recorded
                // with the lambda of now; on fashion the search had spent 2 of its 6 epochs getting from here to there).
                if set.filter({ $0 == "1" }).count == 1 {
                    let off = String(repeating: "0", count: set.count)
                    pathSeenSets.insert(off)
                    pathSets.append((off, lambda, step))
                    return planPathTraining(ending: "one layer is left, so the next set is every gate off")
                }
            }
        }
        return advanceSearchLambda(raiseEvery: raiseEvery, growth: path.growth)
    }

    /// Whether two sets whose deltas cost `a` and `b` (shares of the backbone) are one point of the curve: they differ
    /// by less than 10% of the larger.
    static func sameStorage(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 0.1 * max(a, b) }

    /// The search's step after its sets are checked: ends the search at the end of `--epochs`, else raises lambda by
    /// `growth` every `raiseEvery` steps. Returns true when the path is complete or failed.
    private func advanceSearchLambda(raiseEvery: Int, growth: Double) -> Bool {
        if let limit = config.maxSteps, step >= limit {
            notice(.info, "--steps \(limit) ended the path's search after \(pathSets.count) set(s): nothing is trained")
            return true
        }
        if step >= totalSteps {
            return planPathTraining(ending: "--epochs \(adapter.epochs) ended it before every gate was off (raise --epochs "
                + "or --path-growth to reach the sparse end)")
        }
        pathSinceRaise += 1
        if pathSinceRaise >= raiseEvery {
            pathSinceRaise = 0
            control.lambda = min(max(lambda, 1e-3) * growth, TrainingControl.maximumLambda)
            pathLambdaRequest = control.lambda
        }
        return false
    }

    /// Ends the search (`ending` says why, for the notice): plans the training of every set found
    /// (``PathSettings/settleSteps`` each from the end of warm-up; none for an every-gate-off set whose head re-fits as
    /// the probe), announces the steps it adds (the dashboard's and the progress lines' step total follow it), and
    /// starts the first set. Returns true when the path is complete or failed.
    private func planPathTraining(ending: String) -> Bool {
        guard let path = config.path, pathMember != nil else { return true }
        let (_, settleSteps) = path.resolved(stepsPerEpoch: adapter.stepsPerEpoch)
        let probeOff = probeRefitHead(gatesOff: true) != nil
        let trained = pathSets.filter { $0.key.contains("1") || !probeOff }.count
        let (planned, overflow) = trained.multipliedReportingOverflow(by: settleSteps)
        pathStepLimit = min(overflow || planned > Int.max - step ? Int.max : step + planned, config.maxSteps ?? Int.max)
        notice(.info, "path search over after \(pathSets.count) set(s): \(ending)"
               + "; each set now trains from the end of warm-up for \(settleSteps) steps with its gates fixed: "
               + "\(overflow ? "over \(Int.max)" : "\(planned)") steps more", plannedSteps: pathStepLimit)
        return trainPathSet(0)
    }

    /// Starts the training of set `index` of ``pathSets``: the parameters, momentum and dropout generators go back to
    /// the end of warm-up, the gates are fixed to the set (scores on their side of tau, frozen; deltas of layers off
    /// frozen), the penalty is off and the learning rate decays from `--lr` to 0 over the set's steps. An every-gate-off
    /// set whose head alone would train re-fits its head as the probe (``refitHeadAsProbe()``) and is recorded at
    /// once. Returns true when no set is left (the path is complete) or the run failed.
    private func trainPathSet(_ index: Int) -> Bool {
        guard let path = config.path, let m = pathMember, let start = pathStart else { return true }
        let (_, settleSteps) = path.resolved(stepsPerEpoch: adapter.stepsPerEpoch)
        var index = index
        while index < pathSets.count {
            let set = pathSets[index]
            // `--steps` reached at the end of a set: the sets left are not started (a set needing steps would be
            // recorded untrained; the every-gate-off probe needs none).
            if let limit = config.maxSteps, step >= limit, set.key.contains("1") || probeRefitHead(gatesOff: true) == nil {
                notice(.info, "--steps \(limit) ended the path before set \(index) of \(pathSets.count)")
                return true
            }
            for (member, values) in zip(members, start.parameters) {
                for (p, v) in zip(member.network.parameters, values) { p.value = v }
            }
            optimizer?.momentumBuffers = start.momentum
            restoreDropout(start.dropout)
            setGates(m, to: set.key)
            freezeGates()
            previousActive[m] = members[m].gatedLayers.map(\.isActive)   // a set's start is not a gate flip
            if !set.key.contains("1") {
                switch refitHeadAsProbe() {
                case .failed: return true
                case .notApplicable: break
                case .done(let accuracy, let refitEpoch, let epochs, let steps, let seconds):
                    notice(.info, String(format: "path set %d: every gate is off, so the head re-fits from its initial weights "
                        + "on the backbone's cached features as --mode probe trains it (%d epochs, %d steps, %.1f s; "
                        + "validation %.4f at its epoch %d)", index, epochs, steps, seconds, accuracy, refitEpoch))
                    recordPathPoint(m, lambda: set.lambda)
                    if failure != nil { return true }
                    index += 1
                    continue
                }
            }
            pathTraining = index
            pathSettleLeft = settleSteps
            pathSettleTotal = settleSteps
            notice(.settled, "path set \(index) of \(pathSets.count): trains from the end of warm-up for \(settleSteps) steps "
                + "with its gates fixed (\(set.key.filter { $0 == "1" }.count)/\(set.key.count) active), the learning rate "
                + "decaying from --lr to 0", step: step + 1)
            return false
        }
        notice(.info, "path complete: \(pathPoints.count) point(s)")
        return true
    }

    /// Evaluates member `m`'s current set on validation and test, writes its export to `points/point-NN.safetensors`
    /// and records it with `lambda` (the lambda at which the search found the set; default the current one).
    private func recordPathPoint(_ m: Int, lambda pointLambda: Double? = nil) {
        guard let task = members[m].task else { return }
        let member = members[m]
        recalibrate(m)
        let val = member.validation.count > 0 ? accuracy(m, on: member.validation, phase: .validating) : (trainAccuracy[m] ?? 0)
        let test = member.test.map { accuracy(m, on: $0, phase: .testing) }
        guard failure == nil else { return }
        let index = pathPoints.count
        var export: String? = String(format: "points/point-%02d.safetensors", index)
        var exportBytes: Int?
        if isWriter, let name = export {
            let dir = views[member.view].directory
            do {
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("points"), withIntermediateDirectories: true)
                _ = try writeExport(m, base: (adapter.base.name, adapter.base.contentHash), testAccuracy: test,
                                    validationAccuracy: val, to: dir.appendingPathComponent(name))
                exportBytes = fileSize(dir.appendingPathComponent(name).path)
            } catch {
                fail("writing \(name) failed: \(error)")
                export = nil
            }
        }
        let accounting = ParameterAccounting(task)
        let active = task.activeIndices.map { task.gatedLayers[$0].name }
        pathPoints.append(PathPoint(index: index, step: step, lambda: pointLambda ?? lambda, activeLayers: active,
                                    gatedLayers: task.gatedLayers.count, taskSpecificParameters: accounting.taskSpecificParameters,
                                    backboneParameters: accounting.backboneParameters, fractionOfBackbone: accounting.fractionOfBackbone,
                                    validationAccuracy: val, testAccuracy: test, export: export,
                                    seconds: Date().timeIntervalSince(started), exportBytes: exportBytes))
        notice(.info, String(format: "path point %d at step %d: lambda %@, %d/%d active (%.2f%% of the backbone), validation %.4f",
                             index, step, ProgressFormatter.fmt(pointLambda ?? lambda), active.count, task.gatedLayers.count,
                             100 * accounting.fractionOfBackbone, val)
               + (test.map { String(format: ", test %.4f", $0) } ?? ""), views: [member.view])
    }

    /// At the end of a path run: records the set it holds if that is not a point yet (a run stopped early: `q`, a
    /// signal, `--steps`; a notice says how far the set got), and writes `path.csv`, `path.md`, `path.json` and
    /// `tradeoff.svg`.
    func finishPath() {
        guard let m = pathMember else { return }
        if pathPoints.last.map({ p in p.activeLayers != members[m].gatedLayers.filter(\.isActive).map(\.name) }) ?? true {
            let training = pathTraining.map { pathSets[$0] }
            notice(.info, training != nil
                ? "the run ended after \(pathSettleTotal - pathSettleLeft) of the \(pathSettleTotal) steps of path set \(pathTraining ?? 0): "
                    + "it is recorded as it is"
                : "the run ended before the search was over: the set it holds is recorded as it is, untrained")
            recordPathPoint(m, lambda: training?.lambda)
        }
        guard isWriter, failure == nil else { return }
        do {
            try PathReport.write(pathPoints, task: members[m].name, seed: config.seed, to: views[members[m].view].directory)
        } catch {
            fail("writing the path files failed: \(error)")
        }
    }
}
