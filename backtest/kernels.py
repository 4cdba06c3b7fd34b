"""Compiled loops for state that carries from round to round (inventory, Bell-pair buffer): ``qcoord.backtest.kernels``.

numba caches these on disk (``cache=True``) keyed by this file; a cache written before the package was named qcoord
names the old module, so this file changed with the rename to invalidate it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _fills(u, table, row, width):  # pragma: no cover - compiled
    """Lots filled: the smallest k with u < table[row, k]; one minute a round (width 2) without a branch."""
    if width == 2:
        return np.int64(u >= table[row, 0])
    k = 0
    while k < width - 1 and u >= table[row, k]:
        k += 1
    return k


@njit(cache=True, nogil=True)
def queue_fills(bid_first, u_buy, u_sell, table, lot, quoted, h_bps, price, fee, limit, cut_cost, price_change,
                inventory, pnl, inv_out, income, costs):  # pragma: no cover - compiled
    """One market maker quoting both sides each minute of a bar; the side quoted first fills more often.

    The half-spread per share is ``quoted[i]`` when ``quoted`` has one value per round, else h_bps x 1e-4 x
    price[i]; ``cut_cost`` NaN means the half-spread plus the fee.
    Per round: the bid fills the smallest k with u_buy < table[row, k] lots (inverse CDF of Binomial(m, p)),
    the ask likewise with u_sell; the row is position * 3 + effect + 1, position 0 for the order placed first,
    effect +1 when the round's price moves through the order (down for the bid, up for the ask), -1 away, 0
    flat (adverse selection). Each filled share earns half_spread - fee; inventory beyond +-limit is cut back
    at cut_cost per share; the inventory is then held over the round's price change. Returns P&L and end
    inventory per round, the final inventory (the next chunk's start), and per round the spread income and
    the costs (fees and cuts): P&L = income - costs + inventory x price change. The four output arrays are
    allocated by the caller (numpy's large allocations fault in huge pages; the kernel's own would fault 4 KB
    pages on every call, which costs more than the loop).
    """
    n = bid_first.size
    width = table.shape[1]
    inv = inventory
    per_q = quoted.size == n and n > 0
    cut_given = cut_cost == cut_cost
    for i in range(n):
        h = quoted[i] if per_q else h_bps * 1e-4 * price[i]
        move = price_change[i]
        down = np.int64(move < 0.0) - np.int64(move > 0.0)  # +1: through the bid
        first_bid = bid_first[i] != 0
        row_b = (0 if first_bid else 3) + down + 1
        row_s = (3 if first_bid else 0) - down + 1
        k_b = _fills(u_buy[i], table, row_b, width)
        k_s = _fills(u_sell[i], table, row_s, width)
        inv += (k_b - k_s) * lot
        fills = (k_b + k_s) * lot
        cost = fills * fee
        excess = abs(inv) - limit
        if excess > 0:
            cost += excess * (cut_cost if cut_given else h + fee)
            inv = limit if inv > 0 else -limit
        income[i] = fills * h
        costs[i] = cost
        pnl[i] = income[i] - cost + inv * move
        inv_out[i] = inv
    return inv


@njit(cache=True, nogil=True)
def pair_buffer(round_times, arrivals, slots, max_age, buffer, count):  # pragma: no cover - compiled
    """Bell pairs arriving at ``arrivals`` (sorted, seconds) into a memory of ``slots``; each round at
    ``round_times`` uses the freshest stored pair not older than ``max_age``, or none.

    ``buffer[:count]`` holds stored arrival times, oldest first (carried between chunks). A full memory
    drops its oldest pair for a new one. Returns (has_pair, age in seconds, count).
    """
    n = round_times.size
    has = np.zeros(n, dtype=np.bool_)
    age = np.zeros(n)
    j = 0
    for i in range(n):
        t = round_times[i]
        while j < arrivals.size and arrivals[j] <= t:
            if count == slots:
                for k in range(slots - 1):
                    buffer[k] = buffer[k + 1]
                count -= 1
            buffer[count] = arrivals[j]
            count += 1
            j += 1
        if count > 0:
            a = t - buffer[count - 1]
            if a <= max_age:
                has[i] = True
                age[i] = a
                count -= 1
            else:
                count = 0  # the freshest is too old, so are all the others
    return has, age, count


@njit(cache=True, nogil=True)
def bias_fills(bid_first, returns, exposure, income, switch_cost, state, out, costs):  # pragma: no cover - compiled
    """P&L of a signed position, +exposure if bid first else -exposure, over the round's return, plus the spread
    income, less switch_cost (a rate) on the notional a change of bias trades: 2 x exposure, or 1 x when the
    previous state is -1 (no position yet). ``income`` and ``switch_cost`` hold one value or one per round.
    Fills ``out`` (P&L) and ``costs`` per round, allocated by the caller (see queue_fills), and returns the last
    bias as the next chunk's state. Branch-free in the loop: a random strategy's switches are unpredictable."""
    n = bid_first.size
    if n == 0:
        return state
    per_i = income.size > 1
    per_c = switch_cost.size > 1
    inc0, rate0 = income[0], switch_cost[0]
    two_e = 2.0 * exposure
    prev = np.int64(bid_first[0]) if state < 0 else np.int64(state)
    for i in range(n):
        b = np.int64(bid_first[i])
        inc = income[i] if per_i else inc0
        rate = switch_cost[i] if per_c else rate0
        c = np.float64(b != prev) * two_e * rate
        costs[i] = c
        out[i] = (2.0 * b - 1.0) * exposure * returns[i] + inc - c
        prev = b
    if state < 0:  # the first round opened the position: it traded one exposure
        c = exposure * (switch_cost[0])
        costs[0] += c
        out[0] -= c
    return float(prev)


@njit(cache=True, nogil=True)
def bias_book(a, b, r_a, r_b, exposure, inc_a, inc_b, rate_a, rate_b, state_a, state_b, pnl,
              costs):  # pragma: no cover - compiled
    """Both servers of ``bias_fills`` in one pass, writing only the book's P&L and costs (for chunks whose
    per-server series are not kept: two arrays to write instead of five). Returns the two states."""
    n = a.size
    if n == 0:
        return state_a, state_b
    pia, pib, pra, prb = inc_a.size > 1, inc_b.size > 1, rate_a.size > 1, rate_b.size > 1
    two_e = 2.0 * exposure
    pa = np.int64(a[0]) if state_a < 0 else np.int64(state_a)
    pb = np.int64(b[0]) if state_b < 0 else np.int64(state_b)
    for i in range(n):
        ai, bi = np.int64(a[i]), np.int64(b[i])
        c = two_e * (np.float64(ai != pa) * rate_a[i if pra else 0] + np.float64(bi != pb) * rate_b[i if prb else 0])
        costs[i] = c
        pnl[i] = ((2.0 * ai - 1.0) * r_a[i] + (2.0 * bi - 1.0) * r_b[i]) * exposure \
            + inc_a[i if pia else 0] + inc_b[i if pib else 0] - c
        pa, pb = ai, bi
    for state, rate in ((state_a, rate_a[0]), (state_b, rate_b[0])):
        if state < 0:  # the first round opened a position: it traded one exposure
            costs[0] += exposure * rate
            pnl[0] -= exposure * rate
    return float(pa), float(pb)


@njit(cache=True, nogil=True, inline="always")
def _part(acc, e, inc, c):  # pragma: no cover - compiled
    """The sums of one round's P&L parts, e = pnl - shift, inc the income, c the costs: inc, c, e c, c^2, inc^2,
    e inc, c inc (with sum e and sum e^2 they give the directional and before-cost moments: risk.parts_moments)."""
    return (acc[0] + inc, acc[1] + c, acc[2] + e * c, acc[3] + c * c, acc[4] + inc * inc, acc[5] + e * inc,
            acc[6] + c * inc)


@njit(cache=True, nogil=True, inline="always")
def _drawdown(v, ret, cum, peak, max_dd, eq, eq_peak, floor, max_share):  # pragma: no cover - compiled
    """One round of the drawdown of cumulative P&L and of compounded equity (``ret``: the round's book return)."""
    cum += v
    if cum > peak:
        peak = cum
    dd = peak - cum
    if dd > max_dd:
        max_dd = dd
    eq *= 1.0 + ret
    if eq > eq_peak:
        eq_peak = eq
        floor = (1.0 - max_share) * eq_peak
    elif eq < floor:  # rare: only a new maximum drawdown divides
        if eq <= 0.0:  # the book lost more than its size: nothing left to compound
            eq, max_share = 0.0, 1.0
        else:
            max_share = 1.0 - eq / eq_peak
        floor = (1.0 - max_share) * eq_peak
    return cum, peak, max_dd, eq, eq_peak, floor, max_share


# book_stats: one pass over a chunk of book P&L updating a strategy's running sums (one loop on purpose: the
# running sums live in registers, and a second pass would read the chunk twice).
#
# sums: [sum(pnl - shift), sum((pnl - shift)^2), sum(min(r - rf, 0)^2), sum(utility), cumulative P&L,
# peak of cumulative P&L, max drawdown, max drawdown share of compounded equity, compounded equity (per unit
# of book, starting at 1), its peak]; counts: [n, wins, n per input pair (4),
# wins per input pair (4), hedged rounds, rounds where both stocks moved]. Per round o = out_a XOR out_b, its
# utility table[(2x + y) * 2 + o], a win where o equals the cell's better relation ``tgt``, hedged where o
# equals ``want``, the relation that hedged the realised co-movement (2 where a stock did not move: such a
# round counts for neither); block sums for the bootstrap (the chunk starts ``into_block`` rounds into
# block ``block0``); ``marked`` receives the cumulative P&L at the positions ``marks`` (equity curve).
# Counters replace per-round integer divisions; the drawdown share is divided only when it may grow.
@njit(cache=True, nogil=True)
def book_stats(pnl, out_a, out_b, x, y, tgt, want, table, block0, into_block, block_len, book, rf, shift, sums, counts,
               block_sum, block_sq, block_n, marks, marked, inc_a, inc_b, cost_a, cost_b, last,
               parts):  # pragma: no cover - compiled
    """One pass over a chunk of book P&L updating a strategy's running sums (see the comment above); returns the
    rounds in which a server changed its output."""
    # running sums in locals (registers), written back once: array elements would be stored every round
    s0, s1, s2, s3 = sums[0], sums[1], sums[2], sums[3]
    cum, peak, max_dd, max_share = sums[4], sums[5], sums[6], sums[7]
    eq, eq_peak = sums[8], sums[9]  # compounded equity per unit of book, and its running peak
    floor = (1.0 - max_share) * eq_peak  # equity below this sets a new max drawdown share
    wins = counts[1]
    hedged, moved = counts[10], counts[11]
    n_c = np.zeros(4, dtype=np.int64)
    w_c = np.zeros(4, dtype=np.int64)
    inv_book = 1.0 / book
    b, left = block0, block_len - into_block
    bs, bq, bn = 0.0, 0.0, 0
    m = 0
    pia, pib, pca, pcb = inc_a.size > 1, inc_b.size > 1, cost_a.size > 1, cost_b.size > 1
    acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pa, pb, switches = last[0], last[1], 0
    for i in range(pnl.size):
        v = pnl[i]
        acc = _part(acc, v - shift, inc_a[i if pia else 0] + inc_b[i if pib else 0],
                    cost_a[i if pca else 0] + cost_b[i if pcb else 0])
        ia, ib = np.int64(out_a[i]), np.int64(out_b[i])
        switches += np.int64((pa >= 0) & (ia != pa)) + np.int64((pb >= 0) & (ib != pb))  # branch-free
        pa, pb = ia, ib
        d = v - shift
        s0 += d
        s1 += d * d
        r = v * inv_book - rf
        if r < 0.0:
            s2 += r * r
        c = 2 * x[i] + y[i]
        o = out_a[i] ^ out_b[i]
        s3 += table[2 * c + o]
        n_c[c] += 1
        w = np.int64(o == tgt[i])  # branch-free: these comparisons are unpredictable
        wins += w
        w_c[c] += w
        h = want[i]
        moved += 1 - (h >> 1)  # want is 2 where a stock did not move
        hedged += np.int64(o == h)  # o is 0 or 1, never 2
        cum, peak, max_dd, eq, eq_peak, floor, max_share = _drawdown(v, r + rf, cum, peak, max_dd, eq, eq_peak,
                                                                     floor, max_share)
        bs += v
        bq += v * v
        bn += 1
        left -= 1
        if left == 0:
            block_sum[b] += bs
            block_sq[b] += bq
            block_n[b] += bn
            bs, bq, bn = 0.0, 0.0, 0
            b += 1
            left = block_len
        if m < marks.size and marks[m] == i:
            marked[m] = cum
            m += 1
    if bn:
        block_sum[b] += bs
        block_sq[b] += bq
        block_n[b] += bn
    counts[0] += pnl.size
    counts[1] = wins
    counts[10], counts[11] = hedged, moved
    for c in range(4):
        counts[2 + c] += n_c[c]
        counts[6 + c] += w_c[c]
    sums[0], sums[1], sums[2], sums[3] = s0, s1, s2, s3
    sums[4], sums[5], sums[6], sums[7] = cum, peak, max_dd, max_share
    sums[8], sums[9] = eq, eq_peak
    parts += np.array(acc)
    last[0], last[1] = pa, pb
    return switches


@njit(cache=True, nogil=True)
def round_targets(x, y, rx, ry, target_table, flip, cells):  # pragma: no cover - compiled
    """One pass over a chunk's rounds, shared by every strategy: the cell's better relation ``tgt`` (from
    ``target_table`` indexed 2x + y), the relation ``want`` that hedged the realised co-movement (1 = opposite
    biases when r_X r_Y > 0, 0 when < 0, XOR ``flip`` for the challenge labels, 2 when a stock did not move),
    and the co-movement sums per cell added to ``cells``: [rounds, sum r_X r_Y, sum (r_X r_Y)^2, sum r_X^2,
    sum r_Y^2, rounds with r_X r_Y < 0, rounds with r_X r_Y > 0]."""
    n = x.size
    tgt = np.empty(n, dtype=np.uint8)
    want = np.empty(n, dtype=np.uint8)
    for i in range(n):
        c = 2 * x[i] + y[i]
        tgt[i] = target_table[c]
        q = rx[i] * ry[i]
        if q > 0.0:
            want[i] = 1 ^ flip
            cells[c, 6] += 1.0
        elif q < 0.0:
            want[i] = flip
            cells[c, 5] += 1.0
        else:
            want[i] = 2
        cells[c, 0] += 1.0
        cells[c, 1] += q
        cells[c, 2] += q * q
        cells[c, 3] += rx[i] * rx[i]
        cells[c, 4] += ry[i] * ry[i]
    return tgt, want


@njit(cache=True, nogil=True)
def discordant(a1, b1, a2, b2, tgt):  # pragma: no cover - compiled
    """Rounds won by strategy 1 only and by strategy 2 only (won: a XOR b equals the target relation)."""
    only1, only2 = 0, 0
    for i in range(tgt.size):
        w1 = (a1[i] ^ b1[i]) == tgt[i]
        w2 = (a2[i] ^ b2[i]) == tgt[i]
        if w1 and not w2:
            only1 += 1
        elif w2 and not w1:
            only2 += 1
    return only1, only2
