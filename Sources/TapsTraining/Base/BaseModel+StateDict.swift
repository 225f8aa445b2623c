// TapsTraining: loading a base's tensors into a network: older and wrapped PyTorch names, and mismatch errors
// that say which option to check.
import TapsData
import TapsNN
import TapsTensor

extension BaseModel {
    /// The file's tensors under today's torchvision names (``remapLegacyStateDictKeys(_:)``: DataParallel's
    /// `module.` prefix, legacy DenseNet `norm.1`), and a note per change naming `file`, for the run's notices.
    static func remapLegacyNames(_ weights: [String: Tensor], file: String) -> (weights: [String: Tensor], notes: [String]) {
        let (remapped, notes) = remapLegacyStateDictKeys(weights)
        return (remapped, notes.map { "\(file): \($0)" })
    }

    /// `data` with this base's ``notes`` (what loading its file changed) ahead of its own, so every run on the base
    /// shows them as notices.
    func withLoadNotes(_ data: TaskData) -> TaskData {
        var out = data
        out.notes = notes + data.notes
        return out
    }

    /// Strict ``loadStateDict(_:into:strict:)`` of the base's tensors into `network`; a mismatch error names the
    /// base file and says which option to check.
    /// - Throws: `StateDictError` with `source` and `hint` set.
    func loadBaseTensors(_ tensors: [String: Tensor], into network: any Layer) throws {
        do {
            try loadStateDict(tensors, into: network, strict: true)
        } catch var error as StateDictError {
            error.source = name
            error.hint = mismatchHint(error)
            throw error
        }
    }

    /// What to check when the file does not fit `architecture`: the architecture the file's names look like, or
    /// the image size for a ViT whose position embedding differs.
    func mismatchHint(_ error: StateDictError) -> String {
        let recognised = Self.recognise(weights)
        if error.missing.isEmpty && error.unexpected.isEmpty && architecture.hasPrefix("vit")
            && error.shapeMismatches.contains(where: { $0.name.hasSuffix("pos_embedding") }) {
            return "is --image-size right? (a ViT's position embedding depends on it; the model was built for \(inputShape[1]) px)"
        }
        if let recognised, recognised != architecture {
            return "is --arch right? (it is \(architecture); the file looks like \(recognised))"
        }
        if recognised == architecture {
            return "the file looks like \(architecture) but its tensors differ; was it saved by another version of the model?"
        }
        return "is --arch right? (it is \(architecture); known: digitcnn, \(ModelZoo.architectures.joined(separator: ", ")))"
    }
}
