/// Order statistics of one set of samples: what every row of the report shows.
///
/// Medians rather than means: on a shared, noisy machine a few rounds land on
/// a descheduled core and a mean would follow them. Min and max are kept so
/// the spread is visible; p99 is for distributions (figure 3), not for a
/// handful of rounds.
struct Summary: Sendable {
    let count: Int
    let min: Double
    let median: Double
    let p99: Double
    let max: Double

    /// Summarises `samples`; `nil` when there are none.
    init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        p99 = Summary.percentile(99, ofSorted: sorted)
    }

    /// Nearest-rank percentile: the smallest sample with at least `p`% of the
    /// samples at or below it. With 200 samples p99 is the second largest.
    static func percentile(_ p: Double, ofSorted sorted: [Double]) -> Double {
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }

    /// Every statistic scaled by `factor` (ns to µs, for example).
    func scaled(by factor: Double) -> Summary {
        Summary(count: count, min: min * factor, median: median * factor, p99: p99 * factor, max: max * factor)
    }

    private init(count: Int, min: Double, median: Double, p99: Double, max: Double) {
        self.count = count
        self.min = min
        self.median = median
        self.p99 = p99
        self.max = max
    }
}

/// Per-round ratios `numerator[i] / denominator[i]` of two interleaved series.
///
/// Each pair was measured in the same round, back to back, so a slow stretch
/// of the machine inflates both and cancels out of the ratio; the median of
/// these per-round ratios is what the report calls "the ratio".
func pairedRatios(_ numerator: [Double], _ denominator: [Double]) -> [Double] {
    zip(numerator, denominator).compactMap { $1 > 0 ? $0 / $1 : nil }
}
