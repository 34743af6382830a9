//+------------------------------------------------------------------+
//| TradeMath.mqh -- pure trading arithmetic and the MT4 error       |
//| retry policy.                                                    |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_TRADEMATH_MQH
#define COPYGATEWAY_TRADEMATH_MQH

//--- retry classes of MT4 trade errors
#define CG_RETRY_FINAL   0  // do not retry
#define CG_RETRY_REFRESH 1  // RefreshRates() and retry with the new price (135, 136, 138)
#define CG_RETRY_WAIT    2  // trade context busy: wait, then retry (146)
#define CG_RETRY_CHECK   3  // timeout: check whether it went through first (128)
#define CG_RETRY_FREEZE  4  // order within FREEZELEVEL of the market (145): wait for the market to move

#define CG_REFRESH_DELAY_MS 50    // requote/price changed: a fresh price at once
#define CG_CHECK_DELAY_MS   1000  // after a timeout (128), before looking for the order
#define CG_BUSY_DELAY_MS    500   // busy/no connection/too many requests: first backoff (doubles)
#define CG_BUSY_DELAY_MAX_MS 8000 // backoff cap

int CgRetryClass(const int error)
  {
   // MT4 trade server return codes: a stale/invalid price -> refresh and retry
   if(error==129 || error==135 || error==136 || error==138)
      return(CG_RETRY_REFRESH);
   // server/broker busy, no connection, too frequent/many requests, context busy -> back off
   if(error==4 || error==6 || error==8 || error==137 || error==141 || error==146)
      return(CG_RETRY_WAIT);
   if(error==128)
      return(CG_RETRY_CHECK);
   if(error==145)
      return(CG_RETRY_FREEZE);
   return(CG_RETRY_FINAL);
  }

//--- How long to wait before retry number `retry` (1, 2, ...) of an error of class `cls`.
int CgRetryDelayMs(const int cls,const int retry)
  {
   if(cls==CG_RETRY_REFRESH)
      return(CG_REFRESH_DELAY_MS);
   if(cls==CG_RETRY_CHECK)
      return(CG_CHECK_DELAY_MS);
   int delay=CG_BUSY_DELAY_MS;
   for(int i=1;i<retry && delay<CG_BUSY_DELAY_MAX_MS;i++)
      delay*=2;
   return(delay<CG_BUSY_DELAY_MAX_MS ? delay : CG_BUSY_DELAY_MAX_MS);
  }

//--- True when MT4 refuses to modify, close or delete an order of `type` now
//--- (error 145): a position whose SL or TP, or a pending order whose open
//--- price, lies within `freeze` (MODE_FREEZELEVEL x point) of the market.
//--- Prices sit on the point grid, so half a point separates "at" from "beyond".
bool CgWithinFreezeLevel(const int type,const double open_price,const double sl,const double tp,
                         const double bid,const double ask,const double freeze,const double point)
  {
   if(freeze<=0)
      return(false);
   double limit=freeze+point/2.0;  // a distance must be greater than the freeze level
   if(type==OP_BUY)
      return((sl>0 && bid-sl<limit) || (tp>0 && tp-bid<limit));
   if(type==OP_SELL)
      return((sl>0 && sl-ask<limit) || (tp>0 && ask-tp<limit));
   if(type==OP_BUYLIMIT)
      return(ask-open_price<limit);
   if(type==OP_SELLLIMIT)
      return(open_price-bid<limit);
   if(type==OP_BUYSTOP)
      return(open_price-ask<limit);
   if(type==OP_SELLSTOP)
      return(bid-open_price<limit);
   return(false);
  }

//--- A price on the symbol's tick grid (some symbols tick in 0.05 or 0.25 while
//--- showing 2 digits); 0 stays 0 (no SL/TP).
double CgNormalizePrice(const double price,const double tick_size,const int digits)
  {
   if(price<=0)
      return(0.0);
   if(tick_size<=0)
      return(NormalizeDouble(price,digits));
   return(NormalizeDouble(MathRound(price/tick_size)*tick_size,digits));
  }

//--- A stop moved out to the broker's minimum distance (STOPLEVEL) from `ref`
//--- (the close price of a position, the open price of a pending order); 0 stays 0.
double CgRespectStopLevel(const double stop,const double ref,const bool buy,const bool is_sl,const double min_distance)
  {
   if(stop<=0 || min_distance<=0)
      return(stop);
   bool below=(buy==is_sl);  // a buy's SL and a sell's TP lie below the reference
   if(below)
      return(MathMin(stop,ref-min_distance));
   return(MathMax(stop,ref+min_distance));
  }

//--- Points per pip: 10 on fractional (3/5-digit) quotes, else 1.
int CgPipFactor(const int digits) { return((digits==3 || digits==5) ? 10 : 1); }

//--- Slippage in points from a value in pips, honouring 5-digit quotes.
int CgSlippagePoints(const double pips,const int digits)
  {
   return((int)MathRound(pips*CgPipFactor(digits)));
  }

//--- Lots rounded DOWN to the step, capped at max; 0 when below min.
double CgNormalizeLots(const double lots,const double step,const double min_lot,const double max_lot)
  {
   if(lots<=0 || step<=0)
      return(0.0);
   double steps=MathFloor(lots/step+1e-7);
   double v=NormalizeDouble(steps*step,8);
   if(max_lot>0 && v>max_lot)
      v=NormalizeDouble(MathFloor(max_lot/step+1e-7)*step,8);
   if(v<min_lot-1e-9)
      return(0.0);
   return(v);
  }

//--- Price to trade at: opening a buy / closing a sell uses Ask, else Bid.
double CgMarketPrice(const bool buy,const bool opening,const double bid,const double ask)
  {
   if(opening)
      return(buy ? ask : bid);
   return(buy ? bid : ask);
  }

//--- Two prices differ by at least half a point.
bool CgPriceChanged(const double a,const double b,const double point)
  {
   double eps=(point>0 ? point/2.0 : 1e-9);
   return(MathAbs(a-b)>=eps);
  }

#endif
