import Foundation

extension TrainingRun {
    /// Prepares the run directory: with `resume`, restores the newest checkpoint, refusing one
    /// made with other training options (the step count may grow: nothing before step s depends
    /// on the total, so a longer run continues the same sequence); without, refuses a directory
    /// that already holds checkpoints rather than mixing two runs. Returns the checkpoint resumed from.
    @discardableResult
    public func start(resume: Bool) throws(PipelineError) -> URL? {
        let latest = latestCheckpoint()
        guard resume else {
            if latest != nil { throw .runExists(directory: output.relativePath) }
            return nil
        }
        guard let latest else { throw .noCheckpointToResume(directory: output.relativePath) }
        let contents = try Checkpoint.load(latest)
        let config = trainer.configuration
        var saved = contents.training
        saved.steps = config.steps
        guard saved == config, contents.step <= config.steps else { throw .resumeOptionsDiffer(checkpoint: latest.path) }
        try Checkpoint.restore(contents, into: trainer)
        return latest
    }
}
