"""The flowtui engine: model, loaders, scheduler, executors. Never imports Textual."""
