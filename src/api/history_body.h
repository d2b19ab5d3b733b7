// The JSON of a page of one metric's history (get-history's answer), written piece by piece: a
// history of 100,000 points is 7 MB of text, sent while it is formatted instead of held whole.
#ifndef RINGO_API_HISTORY_BODY_H_
#define RINGO_API_HISTORY_BODY_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "common/json_writer.h"
#include "store/store.h"

namespace ringo::api {

class HistoryBody {
 public:
  HistoryBody(std::string_view key, store::MetricPoints page);

  size_t points() const { return page_.points.size(); }
  // The most bytes one call of Fill needs room for to make progress.
  size_t MinRoom() const { return point_room_; }
  // Writes the next part of the text at the front of `out` (at least MinRoom() bytes) and returns
  // its length; 0 once everything is written.
  size_t Fill(std::span<char> out);
  // What is left of the text, at once.
  std::string Rest();

 private:
  char* WritePoint(char* p, const store::MetricPoint& point);

  std::string head_;    // `{"metrics":[`, or `{` for an empty page
  std::string prefix_;  // `{"key":<key>,"value":`, before each point's value
  std::string tail_;    // `]`, the next page's token, `}`
  size_t point_room_ = 0;
  store::MetricPoints page_;
  size_t next_point_ = 0;
  size_t head_sent_ = 0;
  size_t tail_sent_ = 0;
  JsonIntRun timestamps_;
  JsonIntRun steps_;
};

}  // namespace ringo::api

#endif  // RINGO_API_HISTORY_BODY_H_
