// Small open-addressing hash tables for the tokenizer's hot lookups: text -> id over one byte blob (no per-string
// allocation, lookups by std::string_view), and (id, id) -> value for BPE merges.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lc::tok {

inline uint64_t hash_bytes(const char* p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t(n) * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

// Strings stored back to back in one blob; id i is blob[offsets[i] .. offsets[i+1]).
class StringTable {
   public:
    void reserve(size_t n, size_t bytes) {
        offsets_.reserve(n + 1);
        blob_.reserve(bytes);
    }
    uint32_t add(std::string_view s) {
        blob_.append(s.data(), s.size());
        offsets_.push_back(uint32_t(blob_.size()));
        return uint32_t(offsets_.size() - 2);
    }
    // building a string piece by piece: append() then commit()
    void append(std::string_view s) { blob_.append(s.data(), s.size()); }
    void append(char c) { blob_.push_back(c); }
    uint32_t commit() {
        offsets_.push_back(uint32_t(blob_.size()));
        return uint32_t(offsets_.size() - 2);
    }
    std::string_view get(size_t i) const {
        return std::string_view(blob_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
    }
    size_t size() const { return offsets_.size() - 1; }
    size_t bytes() const { return blob_.size(); }

   private:
    std::string blob_;
    std::vector<uint32_t> offsets_{0};
};

// text -> index of a string in a StringTable; with equal texts the last set() wins (as std::map::operator[]).
// Slots are 8 bytes (32 hash bits + the index) so that a 262k-token table stays small.
class StringIdMap {
   public:
    static constexpr int32_t kNone = -1;

    void reset(const StringTable* table, size_t expected) {
        table_ = table;
        size_t cap = 16;
        while (cap < expected + expected / 2) cap <<= 1;
        slots_.assign(cap, Slot{0, kNone});
        mask_ = cap - 1;
        count_ = 0;
    }
    // maps the text of string `sid` to sid; returns true when it replaced an equal text
    bool set(uint32_t sid) {
        const std::string_view s = table_->get(sid);
        return set(sid, hash_bytes(s.data(), s.size()));
    }
    bool set(uint32_t sid, uint64_t h) {
        if ((count_ + 1) * 4 > slots_.size() * 3) grow();
        const std::string_view s = table_->get(sid);
        const uint32_t tag = uint32_t(h >> 32);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            Slot& slot = slots_[i];
            if (slot.value == kNone) {
                slot = Slot{tag, int32_t(sid)};
                ++count_;
                return false;
            }
            if (slot.tag == tag && table_->get(size_t(slot.value)) == s) {
                slot.value = int32_t(sid);
                return true;
            }
        }
    }
    int32_t find(std::string_view s) const { return find(s, hash_bytes(s.data(), s.size())); }
    void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[h & mask_]); }
    int32_t find(std::string_view s, uint64_t h) const {
        const uint32_t tag = uint32_t(h >> 32);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.value == kNone) return kNone;
            if (slot.tag == tag && table_->get(size_t(slot.value)) == s) return slot.value;
        }
    }
    size_t size() const { return count_; }

   private:
    struct Slot {
        uint32_t tag;
        int32_t value;
    };
    void grow() {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(old.size() * 2, Slot{0, kNone});
        mask_ = slots_.size() - 1;
        for (const Slot& s : old) {
            if (s.value == kNone) continue;
            const std::string_view text = table_->get(size_t(s.value));
            for (size_t i = hash_bytes(text.data(), text.size()) & mask_;; i = (i + 1) & mask_) {
                if (slots_[i].value == kNone) {
                    slots_[i] = s;
                    break;
                }
            }
        }
    }
    const StringTable* table_ = nullptr;
    std::vector<Slot> slots_ = std::vector<Slot>(16, Slot{0, kNone});
    size_t mask_ = 15, count_ = 0;
};

// (uint32, uint32) -> (int32, int32); the first set() of a key wins (as std::unordered_map::emplace).
class PairMap {
   public:
    struct Value {
        int32_t a, b;
    };
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2) cap <<= 1;
        keys_.assign(cap, kEmpty);
        values_.assign(cap, Value{0, 0});
        mask_ = cap - 1;
    }
    void emplace(uint32_t x, uint32_t y, Value v) {
        if ((count_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
        const uint64_t k = (uint64_t(x) << 32) | y;
        for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
            if (keys_[i] == kEmpty) {
                keys_[i] = k;
                values_[i] = v;
                ++count_;
                return;
            }
            if (keys_[i] == k) return;
        }
    }
    const Value* find(uint32_t x, uint32_t y) const {
        const uint64_t k = (uint64_t(x) << 32) | y;
        for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
            if (keys_[i] == k) return &values_[i];
            if (keys_[i] == kEmpty) return nullptr;
        }
    }
    size_t size() const { return count_; }

   private:
    static constexpr uint64_t kEmpty = ~uint64_t(0);
    static uint64_t mix(uint64_t k) {
        k ^= k >> 33;
        k *= 0xFF51AFD7ED558CCDull;
        return k ^ (k >> 33);
    }
    void rehash(size_t cap) {
        std::vector<uint64_t> ok;
        std::vector<Value> ov;
        ok.swap(keys_);
        ov.swap(values_);
        keys_.assign(cap, kEmpty);
        values_.assign(cap, Value{0, 0});
        mask_ = cap - 1;
        count_ = 0;
        for (size_t i = 0; i < ok.size(); ++i)
            if (ok[i] != kEmpty) emplace(uint32_t(ok[i] >> 32), uint32_t(ok[i]), ov[i]);
    }
    std::vector<uint64_t> keys_ = std::vector<uint64_t>(16, kEmpty);
    std::vector<Value> values_ = std::vector<Value>(16, Value{0, 0});
    size_t mask_ = 15, count_ = 0;
};

}  // namespace lc::tok
