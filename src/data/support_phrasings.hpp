// The phrasing tables of data/customer_speech.hpp, one file per category of intents. Private to data/.
#pragma once
#include <vector>

#include "data/customer_speech.hpp"

namespace srl::data::detail {

const std::vector<Phrasing>& phrasings_billing();
const std::vector<Phrasing>& phrasings_orders();
const std::vector<Phrasing>& phrasings_account();
const std::vector<Phrasing>& phrasings_technical();  // and out_of_scope
const std::vector<Phrasing>& phrasings_safety_1();
const std::vector<Phrasing>& phrasings_safety_2();

}  // namespace srl::data::detail
