"""What a run leaves behind, beyond its report: the per-interval series and HdrHistogram
logs (``--hlog``, ``--hgrm``), merging reports of several runs, and plotting them."""
