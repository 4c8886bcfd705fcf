/* Sorted range sets; the sets are small (tens of ranges), so inserting moves the tail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rudp-ranges.h"

void rudp_ranges_done(RudpRanges *s) {
        free(s->r);
        s->r = NULL;
        s->n = s->cap = 0;
}

/* Index of the first range whose hi >= v (where a range touching or after v starts). */
static size_t first_reaching(const RudpRanges *s, uint64_t v) {
        size_t a = 0, b = s->n;
        while (a < b) {
                size_t mid = a + (b - a) / 2;
                if (s->r[mid].hi < v)
                        a = mid + 1;
                else
                        b = mid;
        }
        return a;
}

int rudp_ranges_add(RudpRanges *s, uint64_t lo, uint64_t hi) {
        if (lo >= hi)
                return 0;
        size_t i = first_reaching(s, lo), j = i;
        /* Ranges i..j-1 touch or overlap [lo, hi) and merge into one. */
        while (j < s->n && s->r[j].lo <= hi)
                j++;
        if (i == j) {
                if (s->n >= s->max)
                        return -E2BIG;
                if (s->n == s->cap) {
                        size_t cap = s->cap ? s->cap * 2 : 4;
                        if (cap > s->max)
                                cap = s->max;
                        RudpRange *n = realloc(s->r, cap * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        s->r = n;
                        s->cap = cap;
                }
                memmove(s->r + i + 1, s->r + i, (s->n - i) * sizeof(*s->r));
                s->r[i] = (RudpRange) { lo, hi };
                s->n++;
                return 0;
        }
        RudpRange m = { s->r[i].lo < lo ? s->r[i].lo : lo, s->r[j - 1].hi > hi ? s->r[j - 1].hi : hi };
        s->r[i] = m;
        memmove(s->r + i + 1, s->r + j, (s->n - j) * sizeof(*s->r));
        s->n -= j - i - 1;
        return 0;
}

bool rudp_ranges_contains(const RudpRanges *s, uint64_t v) {
        size_t i = first_reaching(s, v + 1);
        return i < s->n && s->r[i].lo <= v;
}

bool rudp_ranges_covers(const RudpRanges *s, uint64_t lo, uint64_t hi) {
        if (lo >= hi)
                return true;
        size_t i = first_reaching(s, lo + 1);
        return i < s->n && s->r[i].lo <= lo && s->r[i].hi >= hi;
}

void rudp_ranges_remove_below(RudpRanges *s, uint64_t v) {
        size_t i = first_reaching(s, v + 1);
        if (s->n == 0)
                return;
        /* Ranges before i end at or below v: gone. Range i may straddle v. */
        memmove(s->r, s->r + i, (s->n - i) * sizeof(*s->r));
        s->n -= i;
        if (s->n > 0 && s->r[0].lo < v)
                s->r[0].lo = v;
}

bool rudp_ranges_first_gap(const RudpRanges *s, uint64_t lo, uint64_t hi, RudpRange *ret) {
        size_t i = first_reaching(s, lo + 1);
        while (lo < hi) {
                if (i >= s->n || s->r[i].lo >= hi) {
                        *ret = (RudpRange) { lo, hi };
                        return true;
                }
                if (s->r[i].lo > lo) {
                        *ret = (RudpRange) { lo, s->r[i].lo };
                        return true;
                }
                lo = s->r[i].hi;
                i++;
        }
        return false;
}

uint64_t rudp_ranges_count_within(const RudpRanges *s, uint64_t lo, uint64_t hi) {
        uint64_t sum = 0;
        for (size_t i = first_reaching(s, lo + 1); i < s->n && s->r[i].lo < hi; i++) {
                uint64_t a = s->r[i].lo > lo ? s->r[i].lo : lo, b = s->r[i].hi < hi ? s->r[i].hi : hi;
                if (b > a)
                        sum += b - a;
        }
        return sum;
}

int rudp_ranges_remove(RudpRanges *s, uint64_t lo, uint64_t hi) {
        if (lo >= hi)
                return 0;
        size_t i = first_reaching(s, lo + 1);
        if (i < s->n && s->r[i].lo < lo && s->r[i].hi > hi) {
                /* [lo, hi) is inside one range: it splits in two. */
                uint64_t end = s->r[i].hi;
                s->r[i].hi = lo;
                int r = rudp_ranges_add(s, hi, end);
                if (r < 0)
                        s->r[i].hi = end;
                return r;
        }
        size_t j = i;
        while (j < s->n && s->r[j].lo < hi) {
                if (s->r[j].lo < lo)
                        s->r[j].hi = lo;       /* keeps its head */
                else if (s->r[j].hi > hi)
                        s->r[j].lo = hi;       /* keeps its tail */
                else
                        s->r[j].lo = s->r[j].hi; /* emptied, removed below */
                j++;
        }
        size_t out = i;
        for (size_t k = i; k < s->n; k++)
                if (s->r[k].lo < s->r[k].hi)
                        s->r[out++] = s->r[k];
        s->n = out;
        return 0;
}
