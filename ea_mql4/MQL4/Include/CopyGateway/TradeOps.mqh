//+------------------------------------------------------------------+
//| TradeOps.mqh -- CTradeOps: OrderSend/Modify/Close/Delete with    |
//| MT4's retry policy, bounded per timer tick.                      |
//|                                                                  |
//| Retries: 129/135/136/138 -> RefreshRates() and retry at once;    |
//| 4/6/8/137/141/146 -> back off (500 ms, doubling, at most         |
//| max_retries times); 128 -> wait, look for the result, then retry; |
//| 145 or an order within FREEZELEVEL of the market -> wait for the |
//| market to move (up to freeze_wait_ms); anything else is final.   |
//|                                                                  |
//| A tick never sleeps longer than its budget (BeginTick): a wait   |
//| that does not fit ends the operation as *deferred* (Deferred(),  |
//| RetryAfterMs()), and the caller runs the command again on a later |
//| tick, so heartbeats keep going out. Retry counts and waiting     |
//| times are kept per command across those ticks (BeginCommand).    |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_TRADEOPS_MQH
#define COPYGATEWAY_TRADEOPS_MQH

#include <CopyGateway/Platform.mqh>

#define CG_CONTEXT_WAIT_MS  5000  // trade context busy longer than this: error 146
#define CG_CONTEXT_POLL_MS  50    // trade context re-check period
#define CG_FREEZE_POLL_MS   250   // frozen order: re-check period

class CTradeOps
  {
protected:
   int               m_magic;           // magic number of every order we place
   double            m_slippage_pips;   // default when the command has none
   int               m_max_retries;     // retries after a retryable error, per command
   int               m_freeze_wait_ms;  // how long a frozen order is waited for, per command
   int               m_last_error;      // MT4 error of the last failed step
   string            m_command;         // command whose retry state is kept below
   int               m_retries;         // retries used by m_command so far
   uint              m_busy_since;      // GetTickCount() when it found the trade context busy (0 = not)
   uint              m_frozen_since;    // GetTickCount() of its first freeze refusal (0 = none)
   uint              m_sleep_until;     // end of this tick's sleep budget (GetTickCount())
   bool              m_deferred;        // the last operation stopped to wait for a later tick
   int               m_retry_after_ms;  // ... and wants to run again after this long

   //--- wait `ms` now if this tick's budget allows; else defer (false)
   bool              Pause(const int ms)
     {
      uint now=GetTickCount();
      if((int)(m_sleep_until-now)>=ms)
        {
         Sleep(ms);
         return(true);
        }
      m_deferred=true;
      m_retry_after_ms=ms;
      return(false);
     }
   //--- the order is within the freeze level (m_last_error 145): defer until
   //--- the market moved, final once it stayed frozen for m_freeze_wait_ms
   bool              WaitOutFreeze(void)
     {
      m_last_error=ERR_TRADE_MODIFY_DENIED;
      uint now=GetTickCount();
      if(m_frozen_since==0)
         m_frozen_since=(now==0 ? 1 : now);
      if((int)(now-m_frozen_since)>=m_freeze_wait_ms)
         return(false);
      m_deferred=true;
      m_retry_after_ms=CG_FREEZE_POLL_MS;
      return(false);
     }
   //--- after m_last_error: true = retry now (waited), false = stop (final, or deferred)
   bool              Backoff(void)
     {
      int cls=CgRetryClass(m_last_error);
      if(cls==CG_RETRY_FINAL)
         return(false);
      if(cls==CG_RETRY_FREEZE)
         return(WaitOutFreeze());
      m_retries++;
      if(m_retries>m_max_retries)
         return(false);
      if(!Pause(CgRetryDelayMs(cls,m_retries)))
         return(false);
      RefreshRates();
      return(true);
     }
   //--- before every trade operation: connected, trading allowed, context free
   //--- (false with m_last_error set, or deferred while the context is busy)
   bool              WaitTradeContext(void)
     {
      if(!IsConnected())
        {
         m_last_error=ERR_NO_CONNECTION;
         return(false);
        }
      if(!IsTradeAllowed())
        {
         m_last_error=ERR_TRADE_NOT_ALLOWED;
         return(false);
        }
      while(IsTradeContextBusy())
        {
         m_last_error=ERR_TRADE_CONTEXT_BUSY;
         uint now=GetTickCount();
         if(m_busy_since==0)
            m_busy_since=(now==0 ? 1 : now);
         if(IsStopped() || (int)(now-m_busy_since)>CG_CONTEXT_WAIT_MS)
            return(false);
         if(!Pause(CG_CONTEXT_POLL_MS))
            return(false);
        }
      m_busy_since=0;
      return(true);
     }
   //--- the selected order cannot be modified, closed or deleted now (FREEZELEVEL)
   bool              SelectedIsFrozen(void) const
     {
      string symbol=OrderSymbol();
      double point=MarketInfo(symbol,MODE_POINT);
      return(CgWithinFreezeLevel(OrderType(),OrderOpenPrice(),OrderStopLoss(),OrderTakeProfit(),
                                 MarketInfo(symbol,MODE_BID),MarketInfo(symbol,MODE_ASK),
                                 MarketInfo(symbol,MODE_FREEZELEVEL)*point,point));
     }
   //--- select open `ticket` and check the freeze level; false with m_last_error otherwise
   bool              SelectChangeable(const int ticket)
     {
      if(!OrderSelect(ticket,SELECT_BY_TICKET) || OrderCloseTime()>0)
        {
         m_last_error=ERR_INVALID_TICKET;
         return(false);
        }
      if(SelectedIsFrozen())
         return(WaitOutFreeze());
      return(true);
     }
   int               SymbolDigits(const string symbol) const { return((int)MarketInfo(symbol,MODE_DIGITS)); }
   //--- `price` on the tick grid of `symbol`
   double            Tick(const string symbol,const double price,const int digits) const
     {
      return(CgNormalizePrice(price,MarketInfo(symbol,MODE_TICKSIZE),digits));
     }

   //--- "cg#<master ticket> <command tag>" (at most 25 of the comment's 31 characters)
   string            Comment(const SOrderCommand &c) const
     {
      return("cg#"+IntegerToString(c.master_ticket)+" "+CgCommandTag(c.command_id));
     }
   //--- the order `c` opened, in `pool` (MODE_TRADES/MODE_HISTORY), 0 = none
   int               FindInPool(const SOrderCommand &c,const int pool)
     {
      string tag=CgCommandTag(c.command_id);
      int total=(pool==MODE_TRADES ? OrdersTotal() : OrdersHistoryTotal());
      for(int i=total-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,pool))
            continue;
         if(OrderMagicNumber()==m_magic && OrderSymbol()==c.symbol && StringFind(OrderComment(),tag)>=0)
            return(OrderTicket());
        }
      return(0);
     }
   int               Slippage(const SOrderCommand &c) const
     {
      if(c.max_slippage_points>=0)
         return(c.max_slippage_points);
      return(CgSlippagePoints(m_slippage_pips,SymbolDigits(c.symbol)));
     }
   //--- OrderSend with the retry policy; 0 on failure (m_last_error) or when deferred
   int               Send(const SOrderCommand &c,const int type,const double lots,const double pending_price)
     {
      int digits=SymbolDigits(c.symbol);
      bool buy=(c.side=="buy");
      while(true)
        {
         if(!WaitTradeContext())
            return(0);
         RefreshRates();
         double price=pending_price;
         if(!CgIsPending(type))
            price=CgMarketPrice(buy,true,MarketInfo(c.symbol,MODE_BID),MarketInfo(c.symbol,MODE_ASK));
         price=Tick(c.symbol,price,digits);
         // market orders go out naked (ECN-safe); SL/TP are set by Modify afterwards
         double gap=MarketInfo(c.symbol,MODE_STOPLEVEL)*MarketInfo(c.symbol,MODE_POINT);
         double sl=(CgIsPending(type) ? Tick(c.symbol,CgRespectStopLevel(c.sl,price,buy,true,gap),digits) : 0);
         double tp=(CgIsPending(type) ? Tick(c.symbol,CgRespectStopLevel(c.tp,price,buy,false,gap),digits) : 0);
         ResetLastError();
         int ticket=OrderSend(c.symbol,type,lots,price,Slippage(c),sl,tp,Comment(c),m_magic,0,clrNONE);
         if(ticket>0)
            return(ticket);
         m_last_error=GetLastError();
         bool timeout=(m_last_error==ERR_TRADE_TIMEOUT);
         if(!Backoff())
            return(0);
         if(timeout)
           {
            // the request may have gone through: never send it twice
            int found=FindInPool(c,MODE_TRADES);
            if(found>0)
               return(found);
           }
        }
      return(0);
     }
   //--- OrderModify with the retry policy (nothing to change = success)
   bool              Modify(const int ticket,const double price,const double sl,const double tp,const int digits)
     {
      while(true)
        {
         if(!OrderSelect(ticket,SELECT_BY_TICKET) || OrderCloseTime()>0)
           {
            m_last_error=ERR_INVALID_TICKET;
            return(false);
           }
         string symbol=OrderSymbol();
         bool buy=(OrderType()==OP_BUY || OrderType()==OP_BUYLIMIT || OrderType()==OP_BUYSTOP);
         double nprice=Tick(symbol,price,digits);
         double ref=(CgIsPending(OrderType()) ? nprice : (buy ? MarketInfo(symbol,MODE_BID) : MarketInfo(symbol,MODE_ASK)));
         double gap=MarketInfo(symbol,MODE_STOPLEVEL)*MarketInfo(symbol,MODE_POINT);
         double nsl=Tick(symbol,CgRespectStopLevel(sl,ref,buy,true,gap),digits);
         double ntp=Tick(symbol,CgRespectStopLevel(tp,ref,buy,false,gap),digits);
         if(!CgPriceChanged(OrderStopLoss(),nsl,MathPow(10,-digits)) &&
            !CgPriceChanged(OrderTakeProfit(),ntp,MathPow(10,-digits)) &&
            !CgPriceChanged(OrderOpenPrice(),nprice,MathPow(10,-digits)))
            return(true);  // nothing to change (MT4 would answer error 1)
         if(SelectedIsFrozen())
            return(WaitOutFreeze());
         if(!WaitTradeContext())
            return(false);
         ResetLastError();
         if(OrderModify(ticket,nprice,nsl,ntp,OrderExpiration(),clrNONE))
            return(true);
         m_last_error=GetLastError();
         if(m_last_error==ERR_NO_RESULT)
            return(true);
         if(!Backoff())
            return(false);
        }
      return(false);
     }
   //--- OrderClose with the retry policy
   bool              CloseOrder(const int ticket,const double lots,const string symbol,const bool buy)
     {
      int digits=SymbolDigits(symbol);
      while(true)
        {
         if(!SelectChangeable(ticket))
            return(false);
         if(!WaitTradeContext())
            return(false);
         RefreshRates();
         double price=NormalizeDouble(CgMarketPrice(buy,false,MarketInfo(symbol,MODE_BID),MarketInfo(symbol,MODE_ASK)),digits);
         ResetLastError();
         if(OrderClose(ticket,lots,price,CgSlippagePoints(m_slippage_pips,digits),clrNONE))
            return(true);
         m_last_error=GetLastError();
         bool timeout=(m_last_error==ERR_TRADE_TIMEOUT);
         if(!Backoff())
            return(false);
         if(timeout && OrderSelect(ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
            return(true);
        }
      return(false);
     }
   //--- OrderDelete with the retry policy
   bool              Delete(const int ticket)
     {
      while(true)
        {
         if(!SelectChangeable(ticket))
            return(false);
         if(!WaitTradeContext())
            return(false);
         ResetLastError();
         if(OrderDelete(ticket,clrNONE))
            return(true);
         m_last_error=GetLastError();
         bool timeout=(m_last_error==ERR_TRADE_TIMEOUT);
         if(!Backoff())
            return(false);
         if(timeout && OrderSelect(ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
            return(true);
        }
      return(false);
     }

public:
                     CTradeOps(void) : m_magic(0),m_slippage_pips(3),m_max_retries(3),m_freeze_wait_ms(10000),m_last_error(0),
                     m_retries(0),m_busy_since(0),m_frozen_since(0),m_sleep_until(0),m_deferred(false),m_retry_after_ms(0) {}
   void              Init(const int magic,const double slippage_pips,const int max_retries,const int freeze_wait_ms)
     {
      m_magic=magic;
      m_slippage_pips=slippage_pips;
      m_max_retries=max_retries;
      m_freeze_wait_ms=freeze_wait_ms;
     }
   //--- a timer tick starts: its trade operations may sleep `budget_ms` in all
   void              BeginTick(const int budget_ms) { m_sleep_until=GetTickCount()+(uint)MathMax(budget_ms,0); }
   //--- `command_id` is (again) being executed: a new one starts with fresh retry
   //--- counts, a deferred one keeps them
   void              BeginCommand(const string command_id)
     {
      m_deferred=false;
      m_retry_after_ms=0;
      if(command_id==m_command)
         return;
      m_command=command_id;
      m_retries=0;
      m_busy_since=0;
      m_frozen_since=0;
     }
   string            Command(void) const { return(m_command); }
   bool              Deferred(void) const { return(m_deferred); }
   int               RetryAfterMs(void) const { return(m_retry_after_ms); }
   int               LastError(void) const { return(m_last_error); }
   int               Retries(void) const { return(m_retries); }
  };

#endif
