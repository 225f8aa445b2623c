// TapsTraining: the run loop's path mode, the trade-off in one run (docs/method.md "The trade-off in one run").
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

extension RunLoop {
    // MARK: - The trade-off in one run (`--path`; docs/method.md "The trade-off in one run")


    /// The learning rate of a path run's next step: `--lr` while searching; during a settle a cosine decay from
    /// `--lr` towards 0 over the settle's steps, so each point is evaluated converged, like the end of a sweep run
    /// (then the search restarts at `--lr`).
    var pathLearningRate: Float {
        let peak = Float(config.learningRate)
        guard pathSettleLeft > 0 else { return peak }
        let done = Float(pathSettleTotal - pathSettleLeft) / Float(max(1, pathSettleTotal))
        return 0.5 * peak * (1 + cos(Float.pi * done))
    }

    /// The gated member a path follows (a path is a single-task run).
    private var pathMember: Int? { members.firstIndex { $0.task != nil } }

    /// Member `m`'s active set as `1`/`0` per gated layer (the key of set votes, candidates and path points).
    func activeKey(_ m: Int) -> String { String(members[m].gatedLayers.map { $0.isActive ? "1" : "0" }) }

    /// After a penalty step of a path run: settle an active set not recorded yet once it has held for a few steps
    /// (a gate chattering at tau back to a recorded set is not a new point; the first point settles for twice the
    /// settle steps; the every-gate-off set re-fits its head as the probe, ``refitHeadAsProbe()``, or when it cannot,
    /// settles twice as long too), record it when settled, else raise lambda on schedule. Returns true when the path
    /// is complete (every gate off and recorded) or failed (``failure`` is set).
    func advancePath() -> Bool {
        guard let path = config.path, let m = pathMember else { return false }
        let (raiseEvery, settleSteps) = path.resolved(stepsPerEpoch: adapter.stepsPerEpoch)
        let set = activeKey(m)
        if pathSettleLeft > 0 {
            pathSettleLeft -= 1
            guard pathSettleLeft == 0 else { return false }
            recordPathPoint(m)
            pathSeenSets.insert(set)
            unfreezeGates()
            return !set.contains("1")
        }
        if pathSeenSets.contains(set) {
            pathCandidate = nil
        } else {
            pathCandidateSteps = set == pathCandidate ? pathCandidateSteps + 1 : 1
            pathCandidate = set
            if pathCandidateSteps >= max(2, raiseEvery / 4) {
                pathCandidate = nil
                // Every gate off with only the head left to train: the point is the probe (docs/method.md "Settle phase").
                if !set.contains("1") {
                    freezeGates()   // the scores and the deltas stop training: only the head may be left
                    switch refitHeadAsProbe() {
                    case .failed: return true
                    case .notApplicable: break
                    case .done(let accuracy, let refitEpoch, let epochs, let steps, let seconds):
                        notice(.info, String(format: "every gate is off: the head re-fits from its initial weights on the "
                            + "backbone's cached features as --mode probe trains it (%d epochs, %d steps, %.1f s; "
                            + "validation %.4f at its epoch %d)", epochs, steps, seconds, accuracy, refitEpoch))
                        recordPathPoint(m)
                        pathSeenSets.insert(set)
                        return true
                    }
                }
                // The first point (normally every gate on, right after warm-up) and the last (every gate off, when its head
                // cannot re-fit as the probe) settle twice as long, within the steps left. The first: its deltas have
                // had only the warm-up (fashion: 0.810 with one settle, 0.823 with two, against 0.822 for 5-epoch
                // sweep runs at lambda 0.03 and 0.1). The last: its head alone re-fits after the largest delta is
                // gone (fashion: 0.713 with one settle, 0.729 with two, 0.727 with three).
                // (max(s, min(left, 2s)) written so that no sum or product can overflow)
                let doubled = !set.contains("1") || pathPoints.isEmpty
                let steps = !doubled ? settleSteps
                    : settleSteps + max(0, min(totalSteps - step - settleSteps, settleSteps))
                pathSettleLeft = steps
                pathSettleTotal = steps
                freezeGates()
                return false
            }
        }
        pathSinceRaise += 1
        if pathSinceRaise >= raiseEvery {
            pathSinceRaise = 0
            control.lambda = min(max(lambda, 1e-3) * path.growth, TrainingControl.maximumLambda)
        }
        return false
    }

    /// Evaluates member `m`'s current set on validation and test, writes its export to `points/point-NN.safetensors`
    /// and records it.
    private func recordPathPoint(_ m: Int) {
        guard let task = members[m].task else { return }
        let member = members[m]
        recalibrate(m)
        let val = member.validation.count > 0 ? accuracy(m, on: member.validation, phase: .validating) : (trainAccuracy[m] ?? 0)
        let test = member.test.map { accuracy(m, on: $0, phase: .testing) }
        guard failure == nil else { return }
        let index = pathPoints.count
        var export: String? = String(format: "points/point-%02d.safetensors", index)
        if isWriter, let name = export {
            let dir = views[member.view].directory
            do {
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("points"), withIntermediateDirectories: true)
                _ = try writeExport(m, base: (adapter.base.name, adapter.base.contentHash), testAccuracy: test,
                                    validationAccuracy: val, to: dir.appendingPathComponent(name))
            } catch {
                fail("writing \(name) failed: \(error)")
                export = nil
            }
        }
        let accounting = ParameterAccounting(task)
        let active = task.activeIndices.map { task.gatedLayers[$0].name }
        pathPoints.append(PathPoint(index: index, step: step, lambda: lambda, activeLayers: active,
                                    gatedLayers: task.gatedLayers.count, taskSpecificParameters: accounting.taskSpecificParameters,
                                    backboneParameters: accounting.backboneParameters, fractionOfBackbone: accounting.fractionOfBackbone,
                                    validationAccuracy: val, testAccuracy: test, export: export,
                                    seconds: Date().timeIntervalSince(started)))
        notice(.info, String(format: "path point %d at step %d: lambda %@, %d/%d active (%.2f%% of the backbone), validation %.4f",
                             index, step, ProgressFormatter.fmt(lambda), active.count, task.gatedLayers.count,
                             100 * accounting.fractionOfBackbone, val)
               + (test.map { String(format: ", test %.4f", $0) } ?? ""), views: [member.view])
    }

    /// Unfreezes every learned gate after a path point (scores and deltas train again).
    private func unfreezeGates() {
        for member in members {
            for g in member.gatedLayers where g.behaviour == .learned {
                g.score.requiresGrad = true
                g.delta.requiresGrad = true
            }
        }
    }

    /// At the end of a path run: records the set in training if it is not a point yet, and writes `path.csv`,
    /// `path.md`, `path.json` and `tradeoff.svg`.
    func finishPath() {
        guard let m = pathMember else { return }
        if pathPoints.last.map({ p in p.activeLayers != members[m].gatedLayers.filter(\.isActive).map(\.name) }) ?? true {
            recordPathPoint(m)
        }
        guard isWriter, failure == nil else { return }
        do {
            try PathReport.write(pathPoints, task: members[m].name, seed: config.seed, to: views[members[m].view].directory)
        } catch {
            fail("writing the path files failed: \(error)")
        }
    }
}
