// TapsData: seeded, stratified train/validation split (model selection never touches test).
import TapsTensor

/// Splits `data` into disjoint training and validation sets, stratified by class
/// (``trainValidationSplitIndices(labels:classes:validationFraction:seed:)``).
///
/// - Parameters:
///   - validationFraction: in `[0, 1)`.
///   - seed: seeds the shuffle (``SeededRNG``).
/// - Returns: `train` and `validation`; together they hold every example exactly once, in the original order.
public func trainValidationSplit(_ data: LabeledImages, validationFraction: Double, seed: UInt64)
    -> (train: LabeledImages, validation: LabeledImages) {
    let split = trainValidationSplitIndices(labels: data.labels, classes: data.classes,
                                            validationFraction: validationFraction, seed: seed)
    return (data.subset(split.train), data.subset(split.validation))
}

/// The indices of a seeded, stratified train/validation split of examples with `labels` (in `0..<classes`).
///
/// For each class `k` with `n_k` examples, `round(validationFraction * n_k)` of them (chosen by a
/// seeded shuffle) go to validation, the rest to training; when the fraction is positive and the class
/// has at least 2 examples, validation gets at least one. Both lists are ascending. The same labels, fraction and
/// seed always give the same split, whether the images are in memory or files (``ImageFolderSource``).
/// - Precondition: `validationFraction` in `[0, 1)` (checked by the callers' option validation); every label in
///   `0..<classes`.
public func trainValidationSplitIndices(labels: [Int], classes: Int, validationFraction: Double, seed: UInt64)
    -> (train: [Int], validation: [Int]) {
    precondition(validationFraction >= 0 && validationFraction < 1,
                 "trainValidationSplit: validationFraction must be in [0, 1), got \(validationFraction)")
    var byClass = [[Int]](repeating: [], count: classes)
    for (i, y) in labels.enumerated() { byClass[y].append(i) }
    var rng = SeededRNG(seed: seed)
    var isValidation = [Bool](repeating: false, count: labels.count)
    for members in byClass where !members.isEmpty {
        var take = Int((validationFraction * Double(members.count)).rounded())
        if validationFraction > 0, members.count >= 2 { take = max(take, 1) }
        take = min(take, members.count)
        let order = rng.permutation(members.count)
        for k in order.prefix(take) { isValidation[members[k]] = true }
    }
    return ((0..<labels.count).filter { !isValidation[$0] }, (0..<labels.count).filter { isValidation[$0] })
}

/// Indices of a stratified, seeded random subset of `limit` examples: each class gets a share proportional to its
/// size (largest remainder), and every class present gets at least one example when `limit` allows it. The indices
/// are returned in ascending (original) order. The same labels, limit and seed always give the same subset.
///
/// ```
/// quota_k = floor(limit * n_k / N), the remaining examples to the largest fractional parts (ties: lower class)
/// ```
/// - Returns: all indices when `limit >= labels.count`.
public func stratifiedSubsetIndices(labels: [Int], limit: Int, seed: UInt64) -> [Int] {
    let n = labels.count
    guard limit < n else { return Array(0..<n) }
    guard limit > 0 else { return [] }
    var byClass: [Int: [Int]] = [:]
    for (i, y) in labels.enumerated() { byClass[y, default: []].append(i) }
    let classes = byClass.keys.sorted()
    var quota: [Int: Int] = [:]
    var remainders: [(Double, Int)] = []
    for k in classes {
        let exact = Double(limit) * Double(byClass[k]!.count) / Double(n)
        quota[k] = Int(exact.rounded(.down))
        remainders.append((exact - exact.rounded(.down), k))
    }
    var left = limit - quota.values.reduce(0, +)
    for (_, k) in remainders.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }) where left > 0 {
        quota[k]! += 1; left -= 1
    }
    // Every class at least once when possible: move one from the largest quota.
    if limit >= classes.count {
        for k in classes where quota[k]! == 0 {
            if let donor = classes.max(by: { quota[$0]! < quota[$1]! }), quota[donor]! > 1 {
                quota[donor]! -= 1; quota[k] = 1
            }
        }
    }
    var rng = SeededRNG(seed: seed ^ 0x5452_4149_4E4C_494D)  // "TRAINLIM"
    var chosen: [Int] = []
    for k in classes {
        let members = byClass[k]!
        chosen += rng.permutation(members.count).prefix(quota[k]!).map { members[$0] }
    }
    return chosen.sorted()
}

/// `--train-limit`: at most `limit` training examples, a stratified seeded subset
/// (``stratifiedSubsetIndices(labels:limit:seed:)``); `data` unchanged when `limit` is nil or not smaller.
public func applyTrainLimit(_ data: LabeledImages, limit: Int?, seed: UInt64) -> LabeledImages {
    guard let limit, limit < data.count else { return data }
    return data.subset(stratifiedSubsetIndices(labels: data.labels, limit: max(1, limit), seed: seed))
}
