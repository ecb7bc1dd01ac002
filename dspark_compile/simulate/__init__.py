"""At GPU scale on paper: replay recorded or synthetic acceptance through the real batcher, scheduler and guard against a cost model."""
